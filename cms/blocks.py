"""StreamField blocks for intranet pages.

Plain-text values are autoescaped by the templates; rich text goes through
Wagtail's editor conversion, which keeps only the features listed here.
"""

from django import forms
from django.utils.functional import cached_property
from wagtail import blocks
from wagtail.documents.blocks import DocumentChooserBlock
from wagtail.images.blocks import ImageChooserBlock

# Headings start at h2: the page title is the page's only h1.
BODY_FEATURES = ["h2", "h3", "bold", "italic", "ol", "ul", "link", "document-link", "hr"]
INLINE_FEATURES = ["bold", "italic", "link"]


class HeadingBlock(blocks.StructBlock):
    text = blocks.CharBlock(max_length=160)
    level = blocks.ChoiceBlock(choices=[("h2", "Section heading"), ("h3", "Subheading")], default="h2")

    class Meta:
        icon = "title"
        template = "cms/blocks/heading_block.html"


class CalloutBlock(blocks.StructBlock):
    tone = blocks.ChoiceBlock(
        choices=[("info", "Information"), ("success", "Good news"), ("warning", "Caution"), ("danger", "Important")],
        default="info",
    )
    text = blocks.RichTextBlock(features=INLINE_FEATURES)

    class Meta:
        icon = "warning"
        template = "cms/blocks/callout_block.html"


class ImageBlock(blocks.StructBlock):
    image = ImageChooserBlock()
    alt_text = blocks.CharBlock(max_length=250, help_text="Describe the image for people who cannot see it. Required.")
    caption = blocks.CharBlock(max_length=250, required=False)

    class Meta:
        icon = "image"
        template = "cms/blocks/image_block.html"


class DocumentLinkBlock(blocks.StructBlock):
    document = DocumentChooserBlock()
    label = blocks.CharBlock(max_length=160, required=False, help_text="Defaults to the document's title.")

    class Meta:
        icon = "doc-full"
        template = "cms/blocks/document_link_block.html"


class FAQItemBlock(blocks.StructBlock):
    question = blocks.CharBlock(max_length=250)
    answer = blocks.RichTextBlock(features=INLINE_FEATURES + ["ol", "ul"])


class FAQBlock(blocks.StructBlock):
    items = blocks.ListBlock(FAQItemBlock(), min_num=1)

    class Meta:
        icon = "help"
        label = "FAQ"
        template = "cms/blocks/faq_block.html"


class SpecialtyChooserBlock(blocks.ChooserBlock):
    """A portal.Specialty picked from a plain select (specialties are few)."""

    target_model = "portal.Specialty"

    @cached_property
    def field(self):
        return forms.ModelChoiceField(
            queryset=self.model_class.objects.filter(is_active=True).order_by("name"),
            widget=self.widget,
            required=self._required,
            help_text=self._help_text,
        )

    @cached_property
    def widget(self):
        return forms.Select()

    def get_form_state(self, value):
        # A plain select, not a chooser widget: the ordinary field block state (the chosen id).
        return blocks.FieldBlock.get_form_state(self, value)

    def value_from_form(self, value):
        # The select posts "" for "none chosen" (and anything else a forged form sends);
        # ChooserBlock would look that up as a primary key and fail.
        if value in (None, "") or isinstance(value, self.model_class):
            return value or None
        try:
            return self.model_class.objects.filter(pk=int(value)).first()
        except (TypeError, ValueError):
            return None


class ReferCallToActionBlock(blocks.StructBlock):
    heading = blocks.CharBlock(max_length=120, default="Refer a patient")
    text = blocks.CharBlock(max_length=250, required=False)
    specialty = SpecialtyChooserBlock(
        required=False, help_text="Optional: the referral form opens with this specialty chosen."
    )

    class Meta:
        icon = "link"
        label = "Refer a patient"
        template = "cms/blocks/refer_block.html"


class BodyBlock(blocks.StreamBlock):
    rich_text = blocks.RichTextBlock(features=BODY_FEATURES, template="cms/blocks/rich_text_block.html")
    heading = HeadingBlock()
    callout = CalloutBlock()
    image = ImageBlock()
    document = DocumentLinkBlock()
    faq = FAQBlock()
    refer = ReferCallToActionBlock()
