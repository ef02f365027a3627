"""``python -m services.training``: run the training job service until SIGTERM."""

from services.common.logging import configure_logging
from services.common.server import serve
from services.training.config import TrainingSettings
from services.training.server import create_server


def main() -> None:
    settings = TrainingSettings()
    configure_logging(settings.log_level, settings.log_json)
    serve(settings, create_server)


if __name__ == "__main__":
    main()
