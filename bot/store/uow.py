"""The unit of work: one database transaction, rolled back unless ``commit`` is called."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.domain.email import EmailSettings
from bot.store.repositories.admin import AdminRepository
from bot.store.repositories.audit import AuditRepository
from bot.store.repositories.cards import CardRepository
from bot.store.repositories.conversations import ConversationRepository
from bot.store.repositories.customer_batch import CustomerBatchRepository
from bot.store.repositories.customers import CustomerRepository
from bot.store.repositories.email_outbox import EmailOutboxRepository
from bot.store.repositories.inbox import InboxRepository
from bot.store.repositories.invoices import InvoiceRepository
from bot.store.repositories.links import LinkRepository
from bot.store.repositories.orders import OrderRepository
from bot.store.repositories.outbox import OutboxRepository
from bot.store.repositories.pacing import PacingRepository
from bot.store.repositories.phone_links import PhoneLinkRepository
from bot.store.repositories.products import ProductRepository
from bot.store.repositories.push import PushRepository
from bot.store.repositories.refunds import RefundRepository
from bot.store.repositories.reminders import ReminderRepository
from bot.store.repositories.transactions import TransactionRepository
from bot.store.repositories.vendors import VendorRepository


class UnitOfWork:
    vendors: VendorRepository
    customers: CustomerRepository
    customer_batch: CustomerBatchRepository
    orders: OrderRepository
    transactions: TransactionRepository
    links: LinkRepository
    outbox: OutboxRepository
    pacing: PacingRepository
    reminders: ReminderRepository
    inbox: InboxRepository
    conversations: ConversationRepository
    invoices: InvoiceRepository
    refunds: RefundRepository
    cards: CardRepository
    phone_links: PhoneLinkRepository
    admin: AdminRepository
    audit: AuditRepository
    products: ProductRepository
    push: PushRepository
    emails: EmailOutboxRepository

    def __init__(self, engine: AsyncEngine, email: EmailSettings | None = None) -> None:
        self._engine = engine
        self._email = email
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> UnitOfWork:
        connection = await self._engine.connect()
        await connection.begin()
        self._connection = connection
        self.vendors = VendorRepository(connection)
        self.customers = CustomerRepository(connection)
        self.customer_batch = CustomerBatchRepository(connection)
        self.orders = OrderRepository(connection)
        self.transactions = TransactionRepository(connection)
        self.links = LinkRepository(connection)
        self.outbox = OutboxRepository(connection)
        self.pacing = PacingRepository(connection)
        self.reminders = ReminderRepository(connection)
        self.inbox = InboxRepository(connection)
        self.conversations = ConversationRepository(connection)
        self.invoices = InvoiceRepository(connection)
        self.refunds = RefundRepository(connection)
        self.cards = CardRepository(connection)
        self.phone_links = PhoneLinkRepository(connection)
        self.admin = AdminRepository(connection)
        self.audit = AuditRepository(connection)
        self.products = ProductRepository(connection)
        self.push = PushRepository(connection)
        self.emails = EmailOutboxRepository(connection, self._email)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection = self._connection
        self._connection = None
        if connection is None:
            return
        try:
            if connection.in_transaction():
                await connection.rollback()
        finally:
            await connection.close()

    async def commit(self) -> None:
        if self._connection is None:
            raise RuntimeError("commit outside of the unit of work")
        await self._connection.commit()

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection


class UnitOfWorkFactory:
    """Makes a fresh unit of work per use case: ``async with uow_factory() as uow``. ``email``: set when
    customers' emails are on (SMTP_URL), so the payment flows queue them in the same transaction."""

    def __init__(self, engine: AsyncEngine, email: EmailSettings | None = None) -> None:
        self.engine = engine
        self.email = email

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self.email)
