"""kfs for Python: online features and point-in-time training sets as pandas DataFrames.

    from kfs import Client
    client = Client("http://localhost:8080")
    client.get_online_features(service="fraud_model", entities={"user_id": ["u0", "u1"]}, request={"amount": 250})
"""

from .client import Client
from .errors import (
    BadRequestError,
    KfsError,
    NotFoundError,
    RequestTimeoutError,
    ServerError,
    TooLargeError,
    UnauthorizedError,
    UnavailableError,
    UsageError,
)
from .registry import Feature, RequestFeature, Service, View

__all__ = [
    "BadRequestError",
    "Client",
    "Feature",
    "KfsError",
    "NotFoundError",
    "RequestFeature",
    "RequestTimeoutError",
    "ServerError",
    "Service",
    "TooLargeError",
    "UnauthorizedError",
    "UnavailableError",
    "UsageError",
    "View",
]
__version__ = "0.1.0"
