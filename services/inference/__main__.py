"""``python -m services.inference``: run the inference service until SIGTERM."""

from services.common import memory
from services.common.logging import configure_logging
from services.common.server import serve
from services.inference.config import InferenceSettings


def main() -> None:
    settings = InferenceSettings()
    configure_logging(settings.log_level, settings.log_json)
    memory.limit_kernel_cache(settings.kernel_cache_capacity)  # read once by the library: before torch loads
    from services.inference.server import create_server  # imports torch: after the line above

    serve(settings, create_server)


if __name__ == "__main__":
    main()
