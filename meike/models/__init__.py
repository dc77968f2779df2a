"""All mapped models; importing this package registers every table on ``Base.metadata``."""

from meike.models.accounts import User, UserGrant
from meike.models.audit import AuditEntry, AuditHead
from meike.models.base import Base
from meike.models.cashier import (
    Order,
    OrderAdjustment,
    OrderLine,
    OrderShare,
    Payment,
    Promotion,
    Receipt,
    ReceiptCounter,
)
from meike.models.customers import Customer
from meike.models.dictionaries import (
    Channel,
    Department,
    InfoSource,
    Item,
    ItemCategory,
    MemberLevel,
    PaymentMethod,
    Staff,
    StaffRole,
)
from meike.models.ledger import AccountEntry, Coupon, DayClose, Package, PackageUse, PerformanceEntry
from meike.models.login import LoginThrottle
from meike.models.phone import CallRecord
from meike.models.records import Consultation, Reminder, ReminderTally, ReminderTallyState, Treatment
from meike.models.sms import SmsMessage, SmsTemplate
from meike.models.system import SystemSetting
from meike.models.text_guard import check_row
from meike.models.visits import Appointment, Visit

__all__ = [
    "check_row",
    "LoginThrottle",
    "AuditHead",
    "CallRecord",
    "AccountEntry",
    "Coupon",
    "DayClose",
    "OrderAdjustment",
    "OrderShare",
    "Promotion",
    "Package",
    "PackageUse",
    "PerformanceEntry",
    "Receipt",
    "Appointment",
    "Consultation",
    "Reminder",
    "ReminderTally",
    "ReminderTallyState",
    "Treatment",
    "Visit",
    "AuditEntry",
    "Base",
    "Channel",
    "Customer",
    "Department",
    "InfoSource",
    "Item",
    "ItemCategory",
    "MemberLevel",
    "Order",
    "OrderLine",
    "Payment",
    "PaymentMethod",
    "ReceiptCounter",
    "Staff",
    "StaffRole",
    "SmsMessage",
    "SmsTemplate",
    "SystemSetting",
    "User",
    "UserGrant",
]
