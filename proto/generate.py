"""Generate Python code (messages, gRPC stubs and .pyi type stubs) from the .proto contracts.

Run by ``make setup``; the output sits beside the .proto files and is never committed.

    python proto/generate.py            # generate in place
    python proto/generate.py --out DIR  # generate into DIR (used by the staleness test)
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

PROTO_ROOT = Path(__file__).resolve().parent


def proto_files(root: Path = PROTO_ROOT) -> list[Path]:
    return sorted(root.glob("salesai/**/*.proto"))


def generate(out_dir: Path = PROTO_ROOT) -> list[Path]:
    """Compile every contract into ``out_dir`` and make each folder a package. Returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    well_known = str(resources.files("grpc_tools") / "_proto")
    files = [str(p.relative_to(PROTO_ROOT)) for p in proto_files()]
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit(f"protoc failed on {files}")
    for package in {p.parent for p in out_dir.glob("salesai/**/*_pb2.py")}:
        while package != out_dir:
            (package / "__init__.py").touch()
            package = package.parent
    return sorted(out_dir.glob("salesai/**/*_pb2*.py*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROTO_ROOT)
    written = generate(parser.parse_args(argv).out)
    print(f"generated {len(written)} files from {len(proto_files())} contracts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
