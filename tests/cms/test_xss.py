"""Rich text and StreamField output cannot carry script.

Payloads go in through the editor's save path: a POST to Wagtail's page
editor, as an editor's browser (or a hostile one) would send it. The rendered
page is then parsed and checked for active markup in <main>.
"""

from __future__ import annotations

import json
import re

import pytest
from bs4 import BeautifulSoup
from django.urls import reverse
from wagtail.test.utils.form_data import inline_formset, nested_form_data, rich_text, streamfield

pytestmark = pytest.mark.django_db

PAYLOADS = [
    "<script>alert('xss-script')</script>",
    "<img src=x onerror=alert('xss-img')>",
    "<a href=\"javascript:alert('xss-js')\">click</a>",
    "<svg onload=alert('xss-svg')></svg>",
    '<iframe src="https://evil.example/"></iframe>',
    "<p style=\"width:expression(alert('xss-style'))\">styled</p>",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    '"><script>alert("xss-break-out")</script>',
]
HOSTILE_URLS = [
    "javascript:alert('xss-link')",
    "JaVaScRiPt:alert('xss-link-case')",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox('xss')",
]
ACTIVE_TAGS = [
    "script",
    "iframe",
    "svg",
    "object",
    "embed",
    "frame",
    "frameset",
    "style",
    "link",
    "meta",
    "base",
    "form",
]
DANGEROUS_SCHEME = re.compile(r"^\s*(javascript|data|vbscript):", re.IGNORECASE)


def hostile_contentstate() -> str:
    """Draftail's JSON with every payload as text and every hostile URL as a link: what a forged POST can send."""
    blocks, entities = [], {}
    for i, payload in enumerate(PAYLOADS):
        blocks.append(_block(f"p{i}", payload))
    for i, url in enumerate(HOSTILE_URLS):
        entities[str(i)] = {"type": "LINK", "mutability": "MUTABLE", "data": {"url": url, "href": url}}
        blocks.append(_block(f"l{i}", "a link", [{"offset": 0, "length": 6, "key": i}]))
    return json.dumps({"blocks": blocks, "entityMap": entities})


def _block(key, text, entity_ranges=()):
    return {
        "key": key,
        "type": "unstyled",
        "depth": 0,
        "text": text,
        "inlineStyleRanges": [],
        "entityRanges": list(entity_ranges),
        "data": {},
    }


def editor_rich_text() -> str:
    """The payloads as pasted HTML, converted the way the editor widget converts them."""
    return rich_text("".join(PAYLOADS), features=["bold", "italic", "link", "ol", "ul", "h2", "h3"])


def hostile_body():
    text = " ".join(PAYLOADS)
    return streamfield(
        [
            ("rich_text", hostile_contentstate()),
            ("rich_text", editor_rich_text()),
            ("heading", {"text": text[:160], "level": "h2"}),
            ("callout", {"tone": "warning", "text": hostile_contentstate()}),
            ("callout", {"tone": "danger", "text": editor_rich_text()}),
            (
                "faq",
                {
                    "items": streamfield(
                        [
                            ("item", {"question": text[:250], "answer": hostile_contentstate()}),
                            ("item", {"question": PAYLOADS[1], "answer": editor_rich_text()}),
                        ]
                    )
                },
            ),
            ("refer", {"heading": PAYLOADS[0], "text": PAYLOADS[3], "specialty": ""}),
        ]
    )


def assert_no_active_markup(html: str):
    main = BeautifulSoup(html, "html.parser").find("main")
    assert main is not None
    for name in ACTIVE_TAGS:
        assert main.find(name) is None, f"<{name}> rendered: {main.find(name)}"
    for element in main.find_all(True):
        for attribute, value in element.attrs.items():
            assert not attribute.lower().startswith("on"), f"event handler rendered: {element}"
            assert attribute.lower() != "style", f"inline style rendered: {element}"
            values = value if isinstance(value, list) else [value]
            for item in values:
                if attribute.lower() in {"href", "src", "action", "formaction", "xlink:href", "srcset"}:
                    assert not DANGEROUS_SCHEME.match(item), f"dangerous URL rendered: {element}"


def _post_page(client, parent, app_model: str, data: dict):
    app_label, model_name = app_model.split(".")
    data = {
        **data,
        "comments": inline_formset([]),
        "action-publish": "action-publish",
    }
    response = client.post(
        reverse("wagtailadmin_pages:add", args=[app_label, model_name, parent.pk]), nested_form_data(data)
    )
    if response.status_code != 302:
        pytest.fail(f"editor save failed ({response.status_code}): {_errors(response)}")


def _errors(response):
    form = response.context.get("form") if response.context else None
    if form is None:
        return response.content[:500]
    body_errors = form.errors.as_data().get("body")
    return body_errors[0].as_json_data() if body_errors else form.errors


def test_standard_page_saved_through_the_editor_renders_no_script(client, editor, home_page, two_factor_ready):
    from cms.models import StandardPage

    two_factor_ready(editor)
    _post_page(
        client,
        home_page,
        "cms.standardpage",
        {"title": "Hostile page", "slug": "hostile", "intro": PAYLOADS[7], "review_by": "", "body": hostile_body()},
    )
    page = StandardPage.objects.get(slug="hostile")
    assert page.live

    response = client.get(page.url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "alert(&#x27;xss-script&#x27;)" in html  # the payloads arrived, as text
    assert_no_active_markup(html)


def test_specialty_page_saved_through_the_editor_renders_no_script(client, editor, specialty_index, two_factor_ready):
    from cms.models import SpecialtyPage
    from tests.factories import SpecialtyFactory

    specialty = SpecialtyFactory(name="Rheumatology", slug="rheumatology")
    two_factor_ready(editor)
    _post_page(
        client,
        specialty_index,
        "cms.specialtypage",
        {
            "title": "Rheumatology",
            "slug": "rheumatology",
            "specialty": str(specialty.pk),
            "summary": PAYLOADS[1],
            "review_by": "",
            "body": hostile_body(),
        },
    )
    page = SpecialtyPage.objects.get(specialty=specialty)

    response = client.get(page.url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "alert(&#x27;xss-script&#x27;)" in html  # the payloads arrived, as text
    assert_no_active_markup(html)


def test_image_alt_text_and_caption_cannot_break_out_of_the_attribute(
    client, editor, home_page, two_factor_ready, settings, tmp_path
):
    from wagtail.images import get_image_model
    from wagtail.images.tests.utils import get_test_image_file

    from cms.models import StandardPage

    settings.MEDIA_ROOT = str(tmp_path)
    image = get_image_model().objects.create(title="Ward", file=get_test_image_file())
    two_factor_ready(editor)
    _post_page(
        client,
        home_page,
        "cms.standardpage",
        {
            "title": "Pictures",
            "slug": "pictures",
            "intro": "",
            "review_by": "",
            "body": streamfield([("image", {"image": str(image.pk), "alt_text": PAYLOADS[7], "caption": PAYLOADS[0]})]),
        },
    )

    html = client.get(StandardPage.objects.get(slug="pictures").url).content.decode()

    assert_no_active_markup(html)
    img = BeautifulSoup(html, "html.parser").find("main").find("img")
    assert img["alt"] == PAYLOADS[7]  # kept as text, inside the attribute


def test_image_block_requires_alt_text(client, editor, home_page, two_factor_ready, settings, tmp_path):
    from wagtail.images import get_image_model
    from wagtail.images.tests.utils import get_test_image_file

    from cms.models import StandardPage

    settings.MEDIA_ROOT = str(tmp_path)
    image = get_image_model().objects.create(title="Ward", file=get_test_image_file())
    two_factor_ready(editor)
    data = nested_form_data(
        {
            "title": "No alt",
            "slug": "no-alt",
            "intro": "",
            "review_by": "",
            "body": streamfield([("image", {"image": str(image.pk), "alt_text": "", "caption": ""})]),
            "comments": inline_formset([]),
            "action-publish": "action-publish",
        }
    )

    response = client.post(reverse("wagtailadmin_pages:add", args=["cms", "standardpage", home_page.pk]), data)

    assert response.status_code == 200  # the form again, with the error
    assert not StandardPage.objects.filter(slug="no-alt").exists()


def test_a_forged_callout_tone_is_refused_not_rendered_into_a_class(client, editor, home_page, two_factor_ready):
    from cms.models import StandardPage

    two_factor_ready(editor)
    data = nested_form_data(
        {
            "title": "Forged tone",
            "slug": "forged-tone",
            "intro": "",
            "review_by": "",
            "body": streamfield([("callout", {"tone": '"><script>alert(1)</script>', "text": editor_rich_text()})]),
            "comments": inline_formset([]),
            "action-publish": "action-publish",
        }
    )

    response = client.post(reverse("wagtailadmin_pages:add", args=["cms", "standardpage", home_page.pk]), data)

    assert response.status_code == 200
    assert "tone" in str(_errors(response))
    assert not StandardPage.objects.filter(slug="forged-tone").exists()
