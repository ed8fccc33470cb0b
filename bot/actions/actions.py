"""Order status and cancellation actions; any failure hands the conversation to a person."""

from __future__ import annotations

import abc
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import texts
from bot.actions.orders_api import (
    OrderNotCancellable,
    OrderNotFound,
    OrdersApi,
    OrdersUnavailable,
)
from bot.language import detect_language, normalize_order_number
from bot.sender import conversation_id_of

log = logging.getLogger(__name__)

Events = list[dict[str, Any]]
PENDING = "pending_order_action"


def language_of(tracker: Tracker) -> str:
    """The customer's language: the slot the NLU fills, else the latest text, else English."""
    slot = tracker.get_slot("language")
    if slot in ("ar", "en"):
        return str(slot)
    return detect_language(tracker.latest_message.get("text") or "") or "en"


def number_in_message(tracker: Tracker) -> str | None:
    """The first order number in the latest message, normalised."""
    for value in tracker.get_latest_entity_values("order_number"):
        number = normalize_order_number(str(value))
        if number:
            return number
    return None


def hand_off(dispatcher: CollectingDispatcher, language: str, reason: str) -> None:
    """Tell the customer a person is coming and emit the marker the router acts on."""
    dispatcher.utter_message(text=texts.text("handoff", language))
    dispatcher.utter_message(json_message={"handoff": True, "reason": reason})


class OrderAction(Action, abc.ABC):
    """Shared plumbing: the API client, and a failure of any kind turns into a handoff."""

    api_factory = staticmethod(OrdersApi.from_env)

    @abc.abstractmethod
    def name(self) -> str:
        """Rasa's name for the action."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> Events:
        """Run the action; on an outage or a bug, hand off instead of going silent."""
        language = language_of(tracker)
        try:
            return await self.act(dispatcher, tracker, language)
        except OrdersUnavailable as exc:
            log.warning("orders API unavailable: %s", exc)
        except Exception:  # a bug must not leave the customer without an answer
            log.exception("%s failed", self.name())
        hand_off(dispatcher, language, "action_failed")
        return [SlotSet(PENDING, None)]

    @abc.abstractmethod
    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> Events:
        """The action's own work."""

    async def show_status(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str, number: str
    ) -> Events:
        """Look the order up and describe it."""
        try:
            order = await self.api_factory().get(number, conversation_id_of(tracker.sender_id))
        except OrderNotFound:
            dispatcher.utter_message(text=texts.text("not_found", language, number=number))
            return [SlotSet(PENDING, "status"), SlotSet("order_number", None)]
        dispatcher.utter_message(text=texts.order_status(order, language))
        return [SlotSet(PENDING, None), SlotSet("order_number", order.number)]

    async def cancel(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str, number: str
    ) -> Events:
        """Cancel the order and say what happened."""
        try:
            order = await self.api_factory().cancel(number, conversation_id_of(tracker.sender_id))
        except OrderNotFound:
            dispatcher.utter_message(text=texts.text("not_found", language, number=number))
            return [SlotSet(PENDING, "cancel"), SlotSet("order_number", None)]
        except OrderNotCancellable:
            dispatcher.utter_message(text=texts.text("not_cancellable", language, number=number))
            return [SlotSet(PENDING, None)]
        dispatcher.utter_message(text=texts.text("cancelled", language, number=order.number))
        return [SlotSet(PENDING, None), SlotSet("order_number", order.number)]


class ActionOrderStatus(OrderAction):
    """ "Where is my order?": answer from the API, or ask for the number first."""

    def name(self) -> str:
        """Rasa's name for it."""
        return "action_order_status"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> Events:
        """Use the number in this message or the one already discussed."""
        number = number_in_message(tracker) or normalize_order_number(
            str(tracker.get_slot("order_number") or "")
        )
        if number is None:
            dispatcher.utter_message(text=texts.text("ask_number", language))
            return [SlotSet(PENDING, "status")]
        return await self.show_status(dispatcher, tracker, language, number)


class ActionCancelOrder(OrderAction):
    """ "Cancel my order": cancel at once if the number is in the message, else ask or confirm."""

    def name(self) -> str:
        """Rasa's name for it."""
        return "action_cancel_order"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> Events:
        """A number typed now is explicit consent; a remembered one needs a confirmation."""
        number = number_in_message(tracker)
        if number is not None:
            return await self.cancel(dispatcher, tracker, language, number)
        remembered = normalize_order_number(str(tracker.get_slot("order_number") or ""))
        if remembered:
            dispatcher.utter_message(text=texts.text("confirm_cancel", language, number=remembered))
        else:
            dispatcher.utter_message(text=texts.text("ask_number", language))
        return [SlotSet(PENDING, "cancel")]


class ActionProvideOrderNumber(OrderAction):
    """A bare order number: continue the action that asked for it (status by default)."""

    def name(self) -> str:
        """Rasa's name for it."""
        return "action_provide_order_number"

    async def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, language: str
    ) -> Events:
        """Dispatch on the pending action slot."""
        number = number_in_message(tracker)
        pending = tracker.get_slot(PENDING)
        if number is None:
            dispatcher.utter_message(text=texts.text("ask_number", language))
            return []
        if pending == "cancel":
            return await self.cancel(dispatcher, tracker, language, number)
        return await self.show_status(dispatcher, tracker, language, number)
