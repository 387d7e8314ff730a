"""The quiz form, built from the course's questions. It never carries which choices are right."""

from __future__ import annotations

from django import forms

FIELD_PREFIX = "q_"


class QuizForm(forms.Form):
    course = forms.IntegerField(widget=forms.HiddenInput)
    submission_token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, questions, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = questions
        for question in questions:
            choices = [(choice.id, choice.text) for choice in question.choices]
            label = f"{question.number}. {question.text}"
            # Checkboxes where several choices are right, radios where one is.
            field_class, widget, help_text, missing = (
                (
                    forms.MultipleChoiceField,
                    forms.CheckboxSelectMultiple,
                    "Choose all that apply.",
                    "Choose at least one answer.",
                )
                if question.multiple
                else (forms.ChoiceField, forms.RadioSelect, "Choose one.", "Choose an answer.")
            )
            field = field_class(
                label=label,
                choices=choices,
                widget=widget(attrs={"class": "form-check-input"}),
                help_text=help_text,
                error_messages={"required": missing},
            )
            self.fields[FIELD_PREFIX + question.id] = field

    def question_fields(self):
        return [self[FIELD_PREFIX + question.id] for question in self.questions]

    def answers(self) -> dict[str, list[str]]:
        """Question id → the chosen choice ids."""
        out = {}
        for question in self.questions:
            value = self.cleaned_data[FIELD_PREFIX + question.id]
            out[question.id] = list(value) if isinstance(value, list) else [value]
        return out

    def names_foreign_questions(self, data) -> bool:
        """Whether the posted data answers questions this quiz does not have."""
        mine = {FIELD_PREFIX + question.id for question in self.questions}
        return any(key.startswith(FIELD_PREFIX) and key not in mine for key in data)
