"""A wire-level fake of iCount API v3 (see ``server.py``): the server and its records, saved cards and J5
pre-approvals (``cards.py``), and the wire it speaks (``wire.py``)."""

from tests.fakes.icount.server import FakeIcount
from tests.fakes.icount.state import CardTransaction, J5Approval, StoredToken
from tests.fakes.icount.wire import PARAMS, RecordedCall

__all__ = ["PARAMS", "CardTransaction", "FakeIcount", "J5Approval", "RecordedCall", "StoredToken"]
