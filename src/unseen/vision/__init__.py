"""Classical vision shared by the engine and the mask sources (camera motion), owned by neither."""
