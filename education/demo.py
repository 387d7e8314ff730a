"""Demo courses for the demo hospital, and the helper that writes a quiz as Wagtail stores it."""

from __future__ import annotations

import json
import uuid


def quiz_stream(questions, explanation: str = "") -> str:
    """A quiz StreamField value (raw JSON) from [(question, [(choice, is_right), ...]) or (question, choices, why)].

    Every question and choice gets its own id, as the Wagtail editor gives them:
    attempts record answers by these ids.
    """
    blocks = []
    for entry in questions:
        text, choices = entry[0], entry[1]
        why = entry[2] if len(entry) > 2 else explanation
        blocks.append(
            {
                "type": "question",
                "id": str(uuid.uuid4()),
                "value": {
                    "question": text,
                    "choices": [
                        {"type": "item", "id": str(uuid.uuid4()), "value": {"text": choice, "correct": right}}
                        for choice, right in choices
                    ],
                    "explanation": f"<p>{why}</p>" if why else "",
                },
            }
        )
    return json.dumps(blocks)
