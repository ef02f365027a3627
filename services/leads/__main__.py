"""``python -m services.leads``: run the leads service (scoring + suggestions) until SIGTERM."""

from services.common import memory

#: the leads service embeds messages (similar situations) with the base encoder: bound oneDNN's per-shape
#: kernel cache as the inference service does (see services/common/memory.py). The library reads it once, and
#: the settings already import torch (through presidio's spaCy), so it is set first of all.
KERNEL_CACHE_CAPACITY = 64
memory.limit_kernel_cache(KERNEL_CACHE_CAPACITY)

from services.common.logging import configure_logging  # noqa: E402
from services.common.server import serve  # noqa: E402
from services.leads.config import LeadsSettings  # noqa: E402
from services.leads.server import create_server  # noqa: E402


def main() -> None:
    settings = LeadsSettings()
    configure_logging(settings.log_level, settings.log_json)
    serve(settings, create_server)


if __name__ == "__main__":
    main()
