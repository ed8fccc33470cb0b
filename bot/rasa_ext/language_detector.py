"""A Rasa NLU component adding a `language` entity, so the `language` slot follows the customer."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.language import detect_language


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageDetector(GraphComponent, EntityExtractorMixin):
    """Tags each message with `language` = ar | en (script first, then the metadata hint)."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        """Build the stateless component."""
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        """Append a `language` entity when the language can be told."""
        for message in messages:
            text = message.get(TEXT) or ""
            metadata: dict[str, Any] | None = message.get("metadata") or {}
            hint = metadata.get("language") if isinstance(metadata, dict) else None
            language = detect_language(text, hint if isinstance(hint, str) else None)
            if language is None:
                continue  # keep the slot's previous value (digits-only message, no hint)
            entity = {
                "entity": "language",
                "value": language,
                "start": 0,
                "end": len(text),
                "extractor": self.__class__.__name__,
            }
            message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages

    def process_training_data(self, training_data: Any) -> Any:
        """Leave training data alone: language is not something DIET should learn."""
        return training_data
