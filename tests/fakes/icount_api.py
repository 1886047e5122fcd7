"""The fake iCount API under its first name: the package ``tests.fakes.icount`` holds it."""

from tests.fakes.icount import PARAMS, CardTransaction, FakeIcount, J5Approval, RecordedCall, StoredToken

__all__ = ["PARAMS", "CardTransaction", "FakeIcount", "J5Approval", "RecordedCall", "StoredToken"]
