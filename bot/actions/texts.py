"""The order actions' replies in Arabic and English."""

from __future__ import annotations

from bot.actions.orders_api import Order

STATUS = {
    "processing": {"ar": "قيد التجهيز", "en": "being prepared"},
    "shipped": {"ar": "تم شحنه", "en": "shipped"},
    "delivered": {"ar": "تم توصيله", "en": "delivered"},
    "cancelled": {"ar": "ملغي", "en": "cancelled"},
}
CURRENCY_AR = {"SAR": "ريال", "AED": "درهم", "EGP": "جنيه", "KWD": "دينار", "QAR": "ريال قطري"}

TEXTS = {
    "ask_number": {
        "ar": "أكيد! ممكن ترسل لي رقم الطلب؟ (مثل A-10234)",
        "en": "Sure! What is your order number? (for example A-10234)",
    },
    "confirm_cancel": {
        "ar": "هل تريد إلغاء الطلب {number}؟ للتأكيد أرسل رقم الطلب.",
        "en": "Do you want to cancel order {number}? To confirm, send the order number.",
    },
    "not_found": {
        "ar": "لم أجد طلبًا بالرقم {number} مرتبطًا بحسابك. تأكد من الرقم وأرسله مرة ثانية.",
        "en": (
            "I couldn't find an order {number} on your account. "
            "Please check the number and send it again."
        ),
    },
    "cancelled": {
        "ar": "تم إلغاء الطلب {number}. سيُعاد المبلغ إلى وسيلة الدفع خلال 5–10 أيام عمل.",
        "en": (
            "Order {number} is cancelled. "
            "The refund goes back to your payment method within 5–10 business days."
        ),
    },
    "not_cancellable": {
        "ar": (
            "لا يمكن إلغاء الطلب {number} الآن لأنه تم شحنه أو توصيله. "
            "تقدر ترجعه بعد الاستلام خلال 14 يوم."
        ),
        "en": (
            "Order {number} can no longer be cancelled because it has shipped or been delivered. "
            "You can return it within 14 days of delivery."
        ),
    },
    "handoff": {
        "ar": "عذرًا، واجهتنا مشكلة تقنية. جاري تحويلك إلى أحد موظفي خدمة العملاء.",
        "en": (
            "Sorry, something went wrong on our side. "
            "I'm connecting you to a person from our support team."
        ),
    },
}


def text(key: str, language: str, **values: str) -> str:
    """One reply in the given language (English if unknown)."""
    variants = TEXTS[key]
    return variants.get(language, variants["en"]).format(**values)


def _money(order: Order, language: str) -> str:
    """'120.00 SAR' or '120.00 ريال'."""
    currency = order.currency
    if language == "ar":
        currency = CURRENCY_AR.get(order.currency, order.currency)
    return f"{order.total} {currency}".strip()


def order_status(order: Order, language: str) -> str:
    """Describe an order's state, carrier and ETA."""
    status = STATUS.get(order.status, {}).get(language, order.status)
    carrier: str | None = order.carrier
    if language == "ar":
        parts = [f"حالة طلبك {order.number}: {status}."]
        if carrier and order.status == "shipped":
            parts.append(f"شركة الشحن: {carrier}.")
        if order.eta and order.status in ("processing", "shipped"):
            parts.append(f"موعد التوصيل المتوقع: {order.eta}.")
        parts.append(f"الإجمالي: {_money(order, language)}.")
    else:
        parts = [f"Your order {order.number} is {status}."]
        if carrier and order.status == "shipped":
            parts.append(f"Carrier: {carrier}.")
        if order.eta and order.status in ("processing", "shipped"):
            parts.append(f"Expected delivery: {order.eta}.")
        parts.append(f"Total: {_money(order, language)}.")
    return " ".join(parts)
