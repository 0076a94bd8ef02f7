"""Batch rows, one per video: from a folder of videos and frame folders, a CSV, or a JSONL manifest.

Every option of a row is a field of `BatchRow`; a manifest column (CSV) or key (JSONL) of the same name sets it
for that row, and the command line's options are the defaults. In string options `{stem}` and `{name}` become the
input's name without and with its extension (e.g. `--masks masks/{stem}`). Relative paths in a manifest are relative
to the manifest's folder; relative outputs are relative to `--out`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from unseen.errors import UnseenError
from unseen.io.frames import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, natural_key

MANIFEST_EXTENSIONS = (".csv", ".jsonl", ".ndjson")
DEFAULT_OUTPUT_SUFFIX = ".mp4"


@dataclass
class BatchRow:
    """One video to process: input, output and the options of the single-video job; `problem` says why it cannot run."""

    input: str
    output: str
    masks: str | None = None
    box: str | None = None
    at: int = 0
    remove: str | None = None
    detector: str | None = None
    detector_kind: str = "auto"
    score: float = 0.3
    min_area: int = 0
    hold: int = 0
    dilate: int | None = None
    fps: float | None = None
    method: str = "model"
    weights: str = "small"
    crf: int = 18
    delay: int = 0
    backend: str | None = None  # None: the single-video job's default
    problem: str | None = None

    def to_dict(self) -> dict:
        """The row as plain values (it crosses process boundaries as a dict)."""
        return asdict(self)


ROW_OPTIONS = tuple(f.name for f in fields(BatchRow) if f.name not in ("input", "output", "problem"))
_INT_OPTIONS = {"at", "min_area", "hold", "dilate", "crf", "delay"}
_FLOAT_OPTIONS = {"score", "fps"}
_PATH_OPTIONS = {"masks", "detector"}


def _convert(name: str, value: object) -> object:
    """A manifest value as the option's type; None for an empty cell; ValueError if it does not parse."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a value, got {value}")
    if name in _INT_OPTIONS:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{name}: expected a whole number, got {value}")
        try:
            return int(value) if not isinstance(value, str) else int(value.strip())
        except ValueError:
            raise ValueError(f"{name}: expected a whole number, got {value!r}") from None
    if name in _FLOAT_OPTIONS:
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if name == "box" and isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict | list):
        raise ValueError(f"{name}: expected a single value, got {value!r}")
    return str(value).strip()


def _expand(value: object, input_path: Path) -> object:
    """Replace {stem} and {name} in a string option with the input's name."""
    if not isinstance(value, str):
        return value
    return value.replace("{stem}", input_path.stem if input_path.suffix else input_path.name).replace("{name}", input_path.name)


def _resolve(value: str, base: Path | None) -> str:
    """A path relative to `base` (the manifest's folder), unchanged when absolute or when there is no base."""
    path = Path(value).expanduser()
    return str(path if path.is_absolute() or base is None else base / path)


def make_row(values: dict, out_dir: Path, defaults: dict, base: Path | None = None) -> BatchRow:
    """A row from a manifest record (or a folder entry) over the command line's defaults; bad values set `problem`."""
    raw_input = values.get("input")
    if raw_input is None or not str(raw_input).strip():
        return BatchRow(input="", output="", problem="the row has no input")
    input_path = Path(_resolve(str(raw_input).strip(), base)).absolute()
    options = {k: v for k, v in defaults.items() if v is not None}
    problems = []
    for key, value in values.items():
        if key in ("input", "output"):
            continue
        try:
            converted = _convert(key, value)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if converted is not None:
            options[key] = _resolve(converted, base) if key in _PATH_OPTIONS else converted  # type: ignore[arg-type]
    weights = options.get("weights")
    if isinstance(weights, str) and base is not None and weights.endswith(".safetensors") and "weights" in values:
        options["weights"] = _resolve(weights, base)
    options = {k: _expand(v, input_path) for k, v in options.items()}
    for key in ("masks", "detector", "weights"):  # absolute, so workers with another working folder find them
        value = options.get(key)
        if isinstance(value, str) and (key != "weights" or value.endswith(".safetensors")):
            options[key] = str(Path(value).expanduser().absolute())
    output = values.get("output")
    if output is None or not str(output).strip():
        name = input_path.stem if input_path.suffix.lower() in VIDEO_EXTENSIONS else input_path.name
        out_path = out_dir / (name + DEFAULT_OUTPUT_SUFFIX)
    else:
        out_path = Path(str(_expand(str(output).strip(), input_path))).expanduser()
        out_path = out_path if out_path.is_absolute() else out_dir / out_path
    out_path = out_path.absolute()
    row = BatchRow(input=str(input_path), output=str(out_path), **options)
    row.problem = "; ".join(problems) or check_row(row)
    return row


def check_row(row: BatchRow) -> str | None:
    """What is wrong with a row before it runs (missing input, output over the input), or None."""
    inp = Path(row.input)
    if not inp.exists():
        return f"{inp}: no such video or frame folder"
    if Path(row.output).absolute() == inp.absolute():
        return f"{row.output}: the output would replace the input"
    return None


def list_folder(folder: Path) -> list[Path]:
    """Videos and frame folders directly inside `folder`, in natural order (hidden names left out)."""
    items = []
    for path in sorted(folder.iterdir(), key=lambda p: natural_key(p.name)):
        if path.name.startswith("."):
            continue
        if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS:
            items.append(path)
        elif path.is_dir() and any(p.suffix.lower() in IMAGE_EXTENSIONS for p in path.iterdir() if p.is_file()):
            items.append(path)
    return items


def _records_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "input" not in [n.strip() for n in reader.fieldnames]:
            raise UnseenError(f"{path}: a CSV manifest needs a header row with an `input` column")
        return [{(k or "").strip(): v for k, v in record.items()} for record in reader]


def _records_jsonl(path: Path) -> list[dict]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            record = {"input": f"{path.name}:{number}", "_problem": f"line {number} is not JSON ({exc.msg})"}
        if not isinstance(record, dict):
            record = {"input": f"{path.name}:{number}", "_problem": f"line {number} is not a JSON object"}
        records.append(record)
    return records


def read_rows(inputs: str | Path, out_dir: str | Path, defaults: dict | None = None) -> list[BatchRow]:
    """Rows for a folder of videos / frame folders or a .csv / .jsonl manifest; options in `defaults` apply to every row."""
    src, out = Path(inputs).expanduser(), Path(out_dir).expanduser()
    defaults = dict(defaults or {})
    unknown = set(defaults) - set(ROW_OPTIONS)
    if unknown:
        raise UnseenError(f"unknown batch options {sorted(unknown)}")
    if src.is_dir():
        if any(p.suffix.lower() in IMAGE_EXTENSIONS for p in src.iterdir() if p.is_file()):
            raise UnseenError(f"{src} holds images: it is one frame folder; give the folder that contains frame folders")
        rows = [make_row({"input": str(p)}, out, defaults) for p in list_folder(src)]
        if not rows:
            raise UnseenError(f"{src}: no videos ({', '.join(VIDEO_EXTENSIONS)}) or frame folders in this folder")
    elif src.is_file() and src.suffix.lower() in MANIFEST_EXTENSIONS:
        records = _records_csv(src) if src.suffix.lower() == ".csv" else _records_jsonl(src)
        columns = {k for r in records for k in r if k != "_problem"}
        unknown = columns - set(ROW_OPTIONS) - {"input", "output"}
        if unknown:
            raise UnseenError(f"{src}: unknown columns {sorted(unknown)}; known: input, output, {', '.join(ROW_OPTIONS)}")
        rows = []
        for record in records:
            problem = record.pop("_problem", None)
            row = make_row(record, out, defaults, base=src.parent)
            row.problem = problem or row.problem
            rows.append(row)
        if not rows:
            raise UnseenError(f"{src}: the manifest has no rows")
    elif src.exists():
        raise UnseenError(f"{src}: give a folder of videos or a manifest ({', '.join(MANIFEST_EXTENSIONS)})")
    else:
        raise UnseenError(f"{src}: no such folder or manifest")
    _check_unique_outputs(rows)
    return rows


def _check_unique_outputs(rows: list[BatchRow]) -> None:
    """Refuse two rows writing the same output."""
    seen: dict[str, str] = {}
    for row in rows:
        if not row.output:
            continue
        key = str(Path(row.output).absolute())
        if key in seen:
            raise UnseenError(f"{seen[key]} and {row.input} would both write {row.output}; give the rows distinct outputs")
        seen[key] = row.input
