"""The demo intranet: the specialty pages, the program's standard pages and its program updates.

Used by ``manage.py seed_demo`` after the people and referrals exist. Pages
are found by slug under the home page (specialty pages by their specialty),
so running it twice creates nothing; a page an editor has changed is left as
it is. Each new page is published through a revision, as the admin does.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from portal.demo import SPECIALTIES

REVIEW_AFTER = datetime.timedelta(days=182)  # about six months
PROGRAM_PHONE = "the program office, ext. 4242"


# Small builders for StreamField values, so the content below reads as content.
def _h2(text: str) -> tuple[str, dict]:
    return ("heading", {"text": text, "level": "h2"})


def _h3(text: str) -> tuple[str, dict]:
    return ("heading", {"text": text, "level": "h3"})


def _text(html: str) -> tuple[str, str]:
    return ("rich_text", html)


def _ul(*items: str) -> tuple[str, str]:
    return ("rich_text", "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")


def _ol(*items: str) -> tuple[str, str]:
    return ("rich_text", "<ol>" + "".join(f"<li>{item}</li>" for item in items) + "</ol>")


def _callout(tone: str, html: str) -> tuple[str, dict]:
    return ("callout", {"tone": tone, "text": html})


def _faq(*items: tuple[str, str]) -> tuple[str, dict]:
    return ("faq", {"items": [{"question": q, "answer": a} for q, a in items]})


def _refer(text: str, specialty=None, heading: str = "Refer a patient") -> tuple[str, dict]:
    return ("refer", {"heading": heading, "text": text, "specialty": specialty})


# ---------------------------------------------------------------------------
# Specialty pages
# ---------------------------------------------------------------------------

SPECIALTY_INDEX_INTRO = (
    "<p>Each of these specialties reviews second opinion requests from Riverside staff. Choose one to see "
    "the questions its reviewers answer most often, what to put in your referral, and who reviews.</p>"
)

# slug: (summary, opening paragraph, typical questions, what to include)
SPECIALTY_CONTENT: dict[str, tuple[str, str, list[str], list[str]]] = {
    "medical-oncology": (
        "A second look at a cancer diagnosis or treatment plan before treatment starts, "
        "and whether a clinical trial here might fit.",
        "A cancer diagnosis brings big decisions quickly, and many patients want to know the plan is right "
        "before they begin. Our medical oncologists review the pathology, the staging and the proposed "
        "treatment, and say plainly whether they would do the same, or what they would do instead.",
        [
            "<b>Treatment plan confirmation</b> before chemotherapy, immunotherapy or hormone therapy starts",
            "Whether treatment after surgery is needed at all, for example given a recurrence score",
            "What to try next when a cancer has progressed on first- or second-line treatment",
            "<b>Clinical trial candidacy</b>: whether an open trial at Riverside fits the patient",
            "Rare or unusual cancers, where a specialist view on the diagnosis itself helps",
        ],
        [
            "The diagnosis and stage as you understand them",
            "Where the pathology and imaging were done, and when",
            "Treatment so far and how the cancer responded",
            "The decision being weighed, and any start date already booked",
            "What matters most to the patient",
        ],
    ),
    "cardiology": (
        "Expert views on the timing of valve treatment, on rhythm problems, and on whether a procedure "
        "is the right next step.",
        "Many cardiology decisions are about timing: the point at which the risk of a procedure is smaller "
        "than the risk of waiting. Our cardiologists look at the imaging, the rhythm recordings and the "
        "history, and give a clear recommendation the patient can act on.",
        [
            "<b>Valve disease timing</b>: repair or replace now, or keep watching",
            "<b>Ablation or medication</b> for atrial fibrillation and other arrhythmias",
            "Whether a planned stent or bypass operation is the best option",
            "Heart failure treatment that is not working as well as hoped",
            "Chest pain, breathlessness or fainting that a first work-up did not explain",
        ],
        [
            "The symptoms and how much they limit the patient",
            "The latest echo, ECG or monitor results, with dates and where they were done",
            "Medicines tried, and why any were stopped",
            "The procedure proposed, and its date if one is booked",
        ],
    ),
    "orthopaedic-surgery": (
        "A second opinion before joint, spine or sports surgery, including whether conservative care could come first.",
        "Most orthopaedic second opinions come down to one question: is surgery the right choice now? "
        "Our orthopaedic surgeons give an honest answer, including when physical therapy, injections or "
        "simply time are a reasonable first step.",
        [
            "<b>Surgery or conservative care</b> for joint, spine and sports injuries",
            "Which operation, for example a partial or a total knee replacement",
            "Pain or poor function that continues after an earlier operation",
            "Fracture treatment when the options are finely balanced",
        ],
        [
            "Imaging dates, and where the images are held",
            "Treatments tried, and for how long",
            "The operation proposed, by whom, and its date if booked",
            "The patient's goals: work, sport, or getting through the day without pain",
        ],
    ),
    "neurology": (
        "A specialist look at difficult neurological diagnoses such as MS and Parkinson's disease, "
        "and at the treatment that follows.",
        "Neurological diagnoses can be hard to pin down, and they shape the rest of a patient's life. "
        "Our neurologists review the history, the examination findings and the imaging to confirm, refine "
        "or question a diagnosis before the patient commits to long-term treatment.",
        [
            "<b>Multiple sclerosis</b>: do the findings meet the criteria, and which treatment fits",
            "<b>Parkinson's disease</b>, or a condition that looks like it",
            "Seizures that continue despite medicine",
            "Headache, numbness or weakness without a clear cause",
            "Changes in memory or thinking",
        ],
        [
            "A short timeline of the symptoms",
            "MRI and other tests, with dates and where they were done",
            "Treatments tried and what happened",
            "The specific diagnosis or treatment question",
        ],
    ),
    "gastroenterology": (
        "Second opinions on treatment for inflammatory bowel disease, Barrett's esophagus surveillance, "
        "and difficult gut and liver diagnoses.",
        "Many digestive conditions mean years of treatment and regular checks. Our gastroenterologists can "
        "confirm a diagnosis, suggest another approach when treatment is not working, and help decide how "
        "closely a condition needs watching.",
        [
            "<b>Inflammatory bowel disease</b>: choosing or changing therapy for Crohn's disease or ulcerative colitis",
            "<b>Barrett's esophagus</b>: how often to survey, and whether dysplasia needs treatment",
            "Abnormal liver tests, or a new diagnosis of liver disease",
            "Symptoms that continue after a normal work-up",
        ],
        [
            "Endoscopy and pathology reports, with dates and where they were done",
            "Current and past medicines, and how the patient responded",
            "The decision at hand, for example starting or switching a biologic",
        ],
    ),
    "rheumatology": (
        "Help confirming inflammatory arthritis and other autoimmune diagnoses, and choosing among "
        "biologic and other treatments.",
        "An early, accurate diagnosis of inflammatory arthritis protects joints, and the choice of treatment "
        "matters for years. Our rheumatologists review the history, the examination, the blood tests and "
        "the imaging, and help the patient and their clinician choose with confidence.",
        [
            "<b>Diagnosis of inflammatory arthritis</b>: is it inflammatory, and which type",
            "<b>Biologic choice</b>: which biologic or targeted therapy to start, or when to switch",
            "Suspected lupus, vasculitis or another connective tissue disease",
            "Joint pain with unclear or conflicting test results",
        ],
        [
            "Which joints are affected, and for how long",
            "Key blood tests, such as inflammatory markers and antibodies, with dates",
            "Imaging, and where it is held",
            "Treatments tried, and why any were stopped",
        ],
    ),
}


def _specialty_body(specialty) -> list[tuple]:
    _, opening, questions, include = SPECIALTY_CONTENT[specialty.slug]
    return [
        _text(f"<p>{opening}</p>"),
        _h2("Questions our reviewers often answer"),
        _ul(*questions),
        _h2("What to include in your question"),
        _text(
            "<p>A specific question gets a specific answer. Only the question itself is required, "
            "but these details help the reviewer start straight away:</p>"
        ),
        _ul(*include),
        _callout(
            "info",
            "<p>If the records are outside Riverside, say so on the form: the program office requests them, "
            "and the review starts once they arrive.</p>",
        ),
        _refer(f"Ask a Riverside {specialty.name.lower()} specialist for a second look.", specialty=specialty),
    ]


# ---------------------------------------------------------------------------
# Standard pages, in the order they appear under Home
# ---------------------------------------------------------------------------

REFER_ANYONE = "Any clinician can refer. One short form, under a minute."


def _why_it_matters() -> list[tuple]:
    return [
        _h2("Patients ask for a second look. Where they get it matters."),
        _text(
            "<p>Patients facing a serious diagnosis or a major operation often want another expert to look at "
            "their case before they decide. That is a reasonable thing to want, and we should make it easy. "
            "When patients have to find a second opinion on their own, they usually find it somewhere else, "
            "and many of them stay there for their treatment. When one of us refers them to a Riverside "
            "specialist instead, they get the second look they asked for and stay in the care of a team that "
            "already knows them.</p>"
        ),
        _h2("A second look changes more than you might think"),
        _text(
            "<p>Second opinions are not a formality. Van Such et al. (2017) studied patients referred to a "
            "large academic center for a second opinion and found the original diagnosis was confirmed in "
            "12% of cases, refined in 66% and changed in 21%. A refined or changed diagnosis often means a "
            "different plan, and sometimes it spares a patient treatment that would not have helped. Our "
            "reviewers record the same outcomes for every opinion, so we can see what our own program "
            "adds.</p>"
        ),
        _callout(
            "info",
            "<p><b>Nobody is being second-guessed.</b> Asking a colleague for a second look is good medicine, "
            "and a confirmed plan is a useful answer too.</p>",
        ),
        _h2("Why it is part of our strategy"),
        _ul(
            "<b>Quality.</b> A structured second look catches missed or incomplete diagnoses before "
            "treatment starts, and gives patients confidence in the plan they choose.",
            "<b>Equity.</b> Second opinions should not only reach patients who can pay for a private service "
            "or who know whom to call. A referral from any member of staff opens the same door for every "
            "patient, with an interpreter or financial assistance when needed.",
            "<b>Growth.</b> Patients who get their second opinion here often choose to have their care here. "
            "That keeps our specialists busy with the cases they are best at, and the referrals come from "
            "our own colleagues rather than from outside vendors.",
        ),
        _h2("Why your referral counts"),
        _text(
            "<p>A program that waits for patients to find it does not grow. The people best placed to offer a "
            "second opinion are the ones who already know our patients: you. That is why referring takes one "
            "short form, and why every referral is credited to you and your department.</p>"
        ),
        _callout(
            "success",
            "<p>Credit is <b>recognition, not payment</b>. Points never turn into money or affect anyone's "
            "pay, and reviewers are not paid per opinion. We do this because it is good care.</p>",
        ),
        _refer(REFER_ANYONE),
    ]


def _how_it_works() -> list[tuple]:
    return [
        _h2("Five steps from referral to opinion"),
        _ol(
            "<b>You refer.</b> Any signed-in clinician fills in one short form with the patient's details and "
            "the question they want answered. You get a reference number straight away, such as "
            "SO-2026-000123.",
            "<b>The program office triages.</b> A coordinator checks the referral within 2 business days, or "
            "the same day if you marked it urgent. They accept it, ask you a question, or explain why it does "
            "not fit the program. If the records are outside Riverside, they request them for you.",
            "<b>A reviewer claims it.</b> Accepted cases wait in a queue for their specialty. A credentialed "
            "Riverside physician in that specialty claims the case, so exactly one reviewer owns it. If "
            "nobody has claimed it within 2 business days, the program office assigns someone.",
            "<b>The review.</b> The reviewer works from the complete records, not a summary, and usually "
            "delivers the opinion within 5 business days of the records being complete (2 for urgent "
            "cases). The opinion answers your question and says whether the diagnosis and the plan were "
            "confirmed, refined or changed.",
            "<b>You close the loop.</b> The opinion comes back to you, the referring clinician. You talk it "
            "through with the patient, and the program office records what happened next: care here, care "
            "back with you, or no further care needed.",
        ),
        _callout(
            "info",
            "<p><b>The clock pauses while we wait.</b> While we are waiting for outside records, for the "
            "patient, or for an answer to a question, the turnaround clock stops until we have what we "
            "need.</p>",
        ),
        _h2("What you see along the way"),
        _text(
            "<p>Every referral appears in <b>My referrals</b> with its current step. You are notified when it "
            "is accepted, when a reviewer starts, and when the opinion is ready. If the coordinator or the "
            "reviewer needs something from you, the question appears on the case and you answer it there, "
            "so nothing gets lost in email.</p>"
        ),
        _h2("Who to ask"),
        _text(
            "<p>For anything about a particular case, leave a note on the case itself so that everyone "
            f"involved sees it. For anything else, call {PROGRAM_PHONE}, on business days.</p>"
        ),
        _refer(REFER_ANYONE),
    ]


def _how_to_refer() -> list[tuple]:
    return [
        _h2("Start from wherever you are"),
        _text(
            "<p>The <b>Refer a patient</b> button is at the top of every page of this intranet. On a specialty "
            "page, it opens the form with that specialty already chosen. Your name and department come from "
            "your profile, so you never type them.</p>"
        ),
        _h2("Start from the patient's chart"),
        _text(
            "<p>The Refer button on the EHR toolbar opens the same form with the patient already filled in. "
            "Check the details, add your question and submit. Any link that carries the specialty or the "
            "medical record number fills those in too.</p>"
        ),
        _h2("Only six required fields"),
        _ul(
            "The patient's name",
            "Their medical record number",
            "Their date of birth",
            "The specialty you are asking",
            "The question you want answered",
            "Confirmation that the patient agreed to the referral",
        ),
        _text(
            "<p>Everything else is optional, but it helps: the reason for the referral, the diagnosis, whether "
            "it is urgent, a date a decision is needed by (for example, when surgery is already booked), "
            "where the records are, the patient's preferred language, whether an interpreter is needed, and "
            "how the patient expects to pay.</p>"
        ),
        _callout(
            "info",
            "<p><b>Write a clear question.</b> \u201cIs surgery right now, or is a trial of physical therapy "
            "reasonable first?\u201d gets a far more useful answer than \u201cPlease review.\u201d</p>",
        ),
        _h2("After you submit"),
        _text(
            "<p>You see the reference number straight away, and pressing Submit twice still creates only one "
            "referral. Follow it in <b>My referrals</b>: you are told when it is accepted, when a reviewer is "
            "working on it, and when the opinion is ready. If you made a mistake, you can cancel the referral "
            f"yourself while it is waiting for triage; after that, call {PROGRAM_PHONE}.</p>"
        ),
        _refer(REFER_ANYONE),
    ]


def _for_reviewers() -> list[tuple]:
    return [
        _h2("Claiming cases"),
        _text(
            "<p>Your review queue shows accepted cases in the specialties you are credentialed for, and only "
            "those. Before you claim a case, the queue shows the question, the reason, the urgency and how "
            "long the case has waited, but <b>no patient identifiers</b>. Once you claim a case, it is yours: "
            "only one reviewer can claim each case, so nobody duplicates your work.</p>"
        ),
        _h2("Turnaround targets"),
        _ul(
            "Claim cases within 2 business days of being accepted.",
            "Once the records are complete, deliver routine opinions within 5 business days and urgent "
            "opinions within 2.",
            "The clock pauses while a case is on hold for records or for the patient, and while a question "
            "to the referring clinician is open.",
        ),
        _h2("If you can't take it on"),
        _text(
            "<p>Things come up. If you have claimed a case and cannot finish it in time, release it with a "
            "short reason. It goes back to the queue, and the program office makes sure someone else picks "
            "it up. Releasing a case early is always better than letting it wait.</p>"
        ),
        _h2("Writing the opinion"),
        _text(
            "<p>Answer the referring clinician's question directly, in plain language they can share with the "
            "patient. Record whether the diagnosis and the treatment plan were confirmed, refined or changed, "
            "any recommendations, and whether the patient may be a candidate for a clinical trial here. These "
            "outcomes are how the program shows what second opinions add.</p>"
        ),
        _callout(
            "warning",
            "<p><b>Recognition, never pay per opinion.</b> Each opinion you deliver earns review credit, and "
            "your participation (cases claimed, opinions delivered, typical turnaround) is shown to you and to "
            "program leadership. Credit is recognition only: it never becomes money and never affects "
            "pay.</p>",
        ),
        _text(
            "<p>We want reviewing to be part of being a Riverside specialist, not a side job driven by a fee. "
            f"If something about the queue gets in the way of that, tell {PROGRAM_PHONE}.</p>"
        ),
    ]


def _equity() -> list[tuple]:
    return [
        _h2("Why this matters"),
        _text(
            "<p>Second opinions have often been sold as a premium service for patients who can pay privately. "
            "Our program works differently: it starts with a referral from a clinician who knows the patient, "
            "and every referral goes through the same triage and the same reviewers, whatever the patient's "
            "circumstances.</p>"
        ),
        _h2("Tell us what the patient needs"),
        _text("<p>Three optional items on the referral form help us help the patient. Please use them:</p>"),
        _ul(
            "<b>Interpreter needed</b>, with the patient's preferred language. The program office arranges a "
            "qualified interpreter for conversations about the referral and the opinion.",
            "<b>Self-pay</b>, if the patient has no insurance or expects to pay for the review themselves.",
            "<b>Financial assistance requested</b>, if cost might stand in the way. The program office passes "
            "the referral to financial counseling as well as to triage.",
        ),
        _callout(
            "info",
            "<p><b>Nobody is turned away from a second opinion because they cannot pay.</b> What help is "
            "available depends on the patient's situation, so please do not promise a particular outcome. "
            "Point the patient to financial counseling and let them explain the options.</p>",
        ),
        _h2("What we can and cannot promise"),
        _text(
            "<p>We can promise that triage looks at the clinical question, not at how the patient will pay, "
            "and that the program office will put the patient in touch with financial counseling when they "
            "ask for help. We cannot promise that a particular cost will be covered: the rules differ between "
            "insurers and between assistance programs, and financial counseling is the right place to work "
            "through them.</p>"
        ),
        _h2("Who to contact"),
        _text(
            f"<p>For financial assistance, contact financial counseling through {PROGRAM_PHONE}. For an "
            "interpreter, tick the box on the form or leave a note on the referral, and the coordinator will "
            "arrange it.</p>"
        ),
        _refer(REFER_ANYONE),
    ]


def _self_pay() -> list[tuple]:
    return [
        _h2("The three coverage options"),
        _ul(
            "<b>Insurance</b>: the patient expects their insurer to cover the review. Many plans cover a "
            "second opinion, but some need prior authorization, and some do not cover a review of records "
            "without a visit. The program office checks before the review starts and tells you if there is "
            "a problem.",
            "<b>Self-pay</b>: the patient has no insurance, or chooses to pay for the review themselves. The "
            "program office tells the patient the price before the review starts, so there are no surprises.",
            "<b>Financial assistance requested</b>: the patient may not be able to afford the review. The "
            "referral goes to financial counseling as well as to triage.",
        ),
        _callout(
            "warning",
            "<p><b>Please do not quote prices or coverage to patients.</b> Plans differ, and a wrong answer is "
            "hard to take back. Tell the patient that the program office will talk to them about cost before "
            "the review starts.</p>",
        ),
        _h2("Questions patients often ask"),
        _text(
            "<p><b>Will my insurance pay for this?</b> Often, but not always. The program office checks with the "
            "insurer and tells the patient before the review begins.</p>"
            "<p><b>What if I am not sure which option to choose?</b> Choose the one that seems closest. The "
            "coordinator confirms coverage with the patient during triage, and the choice can be changed.</p>"
            "<p><b>Does paying myself make the review faster?</b> No. Every referral goes through the same "
            "triage and the same turnaround targets, however it is paid for.</p>"
            "<p><b>Will I get a bill I did not expect?</b> The program office explains the likely cost before "
            "the review starts. If anything changes, they contact the patient first.</p>"
        ),
        _h2("Who to call"),
        _text(
            f"<p>For questions about coverage, prices or billing, call {PROGRAM_PHONE}, on business days. "
            "They can answer most questions themselves and bring in financial counseling or patient accounts "
            "when needed. If you are unsure, refer anyway and choose the closest option: coverage never "
            "decides whether a referral is accepted.</p>"
        ),
    ]


def _faq_page() -> list[tuple]:
    return [
        _text(
            f"<p>Short answers to the questions staff ask most often. If yours is not here, call {PROGRAM_PHONE}.</p>"
        ),
        _faq(
            (
                "Who can refer a patient?",
                "<p>Any signed-in clinical staff member: physicians, nurses, advanced practice providers and "
                "therapists. You do not need to be the attending, but you should know the case well enough to "
                "write the question.</p>",
            ),
            (
                "Can I refer my own relative?",
                "<p>Please don't. Ask your relative's own clinician to refer them, or call the program office, "
                "which can log the request for you. That keeps the referral independent and protects "
                "everyone involved.</p>",
            ),
            (
                "What if the patient has outside records?",
                "<p>Choose <b>outside, needs a records request</b> where the form asks where the records are. The "
                "program office requests them, and the review starts once they are complete. The clock does "
                "not run while we wait. Please don't paste records into the form.</p>",
            ),
            (
                "How long does it take?",
                "<p>Triage within 2 business days (the same day if urgent), a reviewer within 2 more, and the "
                "opinion usually within 5 business days of complete records (2 if urgent). If a decision is "
                "due by a certain date, put it on the form.</p>",
            ),
            (
                "Will my patient stay my patient?",
                "<p>Yes. The opinion comes back to you, and you decide with the patient what happens next. If "
                "the patient chooses care with the reviewing specialty, you stay informed.</p>",
            ),
            (
                "What does the reviewer see?",
                "<p>Before claiming, only the question, the reason, the urgency and how long the case has "
                "waited, with no patient identifiers. After claiming, the patient's details, your question and "
                "the records needed for the review. Every view of patient details is logged.</p>",
            ),
            (
                "Is my referral counted?",
                "<p>Yes. Each accepted referral earns credit for you and your department, with more when the "
                "opinion is delivered and when the patient is scheduled for care here. Credit is recognition "
                "only, never pay. You can hide your name from public leaderboards in your profile.</p>",
            ),
            (
                "What if I made a mistake?",
                "<p>While the referral is waiting for triage, cancel it yourself from <b>My referrals</b>. "
                "After that, leave a note on the referral or call the program office; they can correct it, or "
                "mark it entered in error so it is left out of every count.</p>",
            ),
            (
                "What if the patient changes their mind?",
                "<p>Ask the program office to cancel the referral, with a short reason. Nothing further "
                "happens, and you can refer the patient again later.</p>",
            ),
            (
                "Can the patient ask for a particular reviewer?",
                "<p>Yes: name a preferred reviewer on the form. The program office tries to honor it, but may "
                "ask another credentialed reviewer if that keeps the case on time.</p>",
            ),
        ),
        _refer(REFER_ANYONE),
    ]


# (slug, title, intro, body builder)
STANDARD_PAGES: list[tuple[str, str, str, Callable[[], list[tuple]]]] = [
    (
        "why-second-opinions-matter",
        "Why second opinions matter to our strategy",
        "Second opinions help us get diagnoses right, keep patients in our care, and reach every patient "
        "who needs one.",
        _why_it_matters,
    ),
    (
        "how-the-program-works",
        "How the program works",
        "From your referral to the opinion in your hands: who does what, and how long each step should take.",
        _how_it_works,
    ),
    (
        "how-to-refer",
        "How to refer in one click",
        "Referring takes one short form and under a minute. Here is everything you need to know.",
        _how_to_refer,
    ),
    (
        "for-reviewing-physicians",
        "For reviewing physicians",
        "How review work is offered, claimed and delivered, and how your contribution is recognized.",
        _for_reviewers,
    ),
    (
        "health-equity-and-financial-assistance",
        "Health equity and financial assistance",
        "A second opinion should depend on what the patient needs, not on what they can pay or which "
        "language they speak.",
        _equity,
    ),
    (
        "self-pay-and-insurance",
        "Self-pay and insurance questions",
        "What the coverage options on the referral form mean, and who can answer a patient's questions about cost.",
        _self_pay,
    ),
    (
        "faq",
        "Frequently asked questions",
        "Quick answers about referring, reviewing and what happens to your patient.",
        _faq_page,
    ),
]

STANDARD_SLUGS = [slug for slug, *_ in STANDARD_PAGES]


def _publish_under(parent, page) -> None:
    parent.add_child(instance=page)
    page.save_revision().publish()


@transaction.atomic
def seed_demo_intranet() -> int:
    """Create the demo specialty and standard pages that do not exist yet; return how many were created."""
    from cms.models import HomePage, SpecialtyIndexPage, SpecialtyPage, StandardPage
    from portal.models import Specialty

    home = HomePage.objects.first()
    if home is None:
        return 0
    review_by = timezone.localdate() + REVIEW_AFTER
    created = 0

    # There is at most one specialty index; an editor may have given it another slug.
    index = SpecialtyIndexPage.objects.first()
    if index is None and not home.get_children().filter(slug="specialties").exists():
        index = SpecialtyIndexPage(title="Specialties", slug="specialties", intro=SPECIALTY_INDEX_INTRO)
        _publish_under(home, index)
        created += 1
    if index is not None:
        for _name, slug in SPECIALTIES:
            specialty = Specialty.objects.filter(slug=slug).first()
            if specialty is None or SpecialtyPage.objects.filter(specialty=specialty).exists():
                continue
            if index.get_children().filter(slug=slug).exists():
                continue
            page = SpecialtyPage(
                title=specialty.name,
                slug=slug,
                specialty=specialty,
                summary=SPECIALTY_CONTENT[slug][0],
                body=_specialty_body(specialty),
                review_by=review_by,
            )
            _publish_under(index, page)
            created += 1

    existing = set(home.get_children().filter(slug__in=STANDARD_SLUGS).values_list("slug", flat=True))
    for slug, title, intro, body in STANDARD_PAGES:
        if slug in existing:
            continue
        _publish_under(home, StandardPage(title=title, slug=slug, intro=intro, body=body(), review_by=review_by))
        created += 1
    created += _seed_demo_updates(home)
    return created


# ---------------------------------------------------------------------------
# Program updates
# ---------------------------------------------------------------------------

UPDATE_INDEX_INTRO = (
    "<p>News from the second opinion program office: what has changed, what is coming, and what we need "
    "from you. Updates meant for your department or role appear here and in your notifications.</p>"
)
UPDATE_EXPIRES_AFTER = datetime.timedelta(days=60)


def _update_one_click() -> list[tuple]:
    return [
        _text(
            "<p>From this week, every clinical workstation has a <b>Refer for a second opinion</b> button on the "
            "EHR toolbar. Press it from a patient's chart and the referral form opens with the patient's name, "
            "medical record number and date of birth already filled in. You add your question, confirm that "
            "the patient agreed, and submit. Most colleagues who tried it during the pilot on the medical wards "
            "took well under a minute.</p>"
        ),
        _h2("What you need to do"),
        _ul(
            "Nothing to install: the button appeared after Monday's EHR update.",
            "Check the prefilled details before you submit, as you would with any order.",
            "Write the question you want answered; it is the one field we cannot fill in for you.",
        ),
        _text(
            "<p>Thank you to the hospitalists and the emergency department nurses who tested the button for six "
            "weeks and told us, plainly, which parts were in the way. The form is shorter because of them.</p>"
        ),
        _callout(
            "info",
            f"<p>If the button is missing on your workstation, call {PROGRAM_PHONE} and we will sort it out with "
            "the EHR team the same day.</p>",
        ),
        _refer("Prefer to start here? The form is the same one.", heading="Refer a patient now"),
    ]


def _update_turnaround() -> list[tuple]:
    return [
        _text(
            "<p>Patients who ask for a second opinion are usually waiting on a decision that matters to them: "
            "whether to have the operation, whether to start the treatment. So from the first of the month "
            "we are holding ourselves to clear, published turnaround targets, counted in business days.</p>"
        ),
        _ul(
            "<b>Triage:</b> the program office accepts or returns a referral within 2 business days, and the "
            "same day when it is marked urgent.",
            "<b>Claiming:</b> a reviewer in the specialty claims the case within 2 business days of it being "
            "accepted. If nobody has, the program office assigns someone.",
            "<b>Opinion:</b> once the records are complete, the opinion is delivered within 5 business days, or "
            "2 for urgent cases.",
        ),
        _text(
            "<p>The clock pauses while we wait for records or for an answer from the referring clinician, and "
            "every referral shows where its clock stands. Reviewers will see a gentle reminder before a target "
            "is missed, not after.</p>"
        ),
        _text(
            "<p>If a patient's decision date is sooner than these targets allow, say so on the form: the "
            "coordinator will look for a reviewer who can meet it.</p>"
        ),
    ]


def _update_patient_data() -> list[tuple]:
    return [
        _callout(
            "warning",
            "<p><b>Please read this and confirm below.</b> Everyone who can see referral details is asked to "
            "acknowledge it by the end of the month.</p>",
        ),
        _text(
            "<p>A second opinion referral carries a patient's name, record number and the clinical question "
            "about them. Patients trust us with that when they agree to a referral, and we want every one of "
            "them to be right to do so.</p>"
        ),
        _h2("Four habits we ask of everyone"),
        _ol(
            "Keep patient details inside the referral. Notifications and e-mails from the portal never contain "
            "them, by design; please do not add them to e-mails, chat messages or printed notes either.",
            "Open a referral only when you are working on it. Every opening is recorded, and the program office "
            "reviews the record each month.",
            "Lock your screen when you step away, even for a minute, especially in shared spaces.",
            "If you see patient details somewhere they should not be, tell the program office straight away. "
            "Reporting a slip is always the right thing to do, and nobody is blamed for raising it.",
        ),
        _text(
            f"<p>Questions about a particular situation: call {PROGRAM_PHONE}, or the privacy office through the "
            "staff directory.</p>"
        ),
    ]


def _update_emergency_nights() -> list[tuple]:
    return [
        _text(
            "<p>For colleagues in the Emergency Department: a second opinion is rarely the right tool for a "
            "decision that has to be made tonight, but it can be the right tool for the patient you admit "
            "tonight and who faces a big decision next week.</p>"
        ),
        _h2("Referring after hours"),
        _ul(
            "You can refer at any hour; the program office triages from 8 in the morning on business days.",
            "Mark the referral urgent and give the date a decision is needed by, if there is one.",
            "Hand over that you have referred, so the admitting team can follow the case in the portal.",
        ),
        _text(
            "<p>Thank you to the charge nurses who asked for this: you told us that night-shift referrals were "
            "getting lost at handover, and this is the fix we agreed together.</p>"
        ),
    ]


# slug, title, summary, body, options (requires_acknowledgement, critical, departments by code, expires)
PROGRAM_UPDATES: list[tuple[str, str, str, Callable[[], list[tuple]], dict]] = [
    (
        "one-click-referrals-from-the-ehr",
        "Refer in one click from the EHR toolbar",
        "The new toolbar button opens the referral form with your patient already filled in.",
        _update_one_click,
        {},
    ),
    (
        "new-turnaround-targets",
        "Our new turnaround targets",
        "Triage in 2 business days, a reviewer in 2 more, and the opinion in 5 once the records are complete.",
        _update_turnaround,
        {},
    ),
    (
        "handling-patient-data-in-referrals",
        "Please read and acknowledge: handling patient data in referrals",
        "Four habits that keep the details patients share with us where they belong.",
        _update_patient_data,
        {"requires_acknowledgement": True, "expires": True},
    ),
    (
        "emergency-department-referring-after-hours",
        "Emergency Department: referring after hours",
        "How to refer an admitted patient at night so the referral is not lost at handover.",
        _update_emergency_nights,
        {"departments": ["ed"]},
    ),
]
UPDATE_SLUGS = [slug for slug, *_ in PROGRAM_UPDATES]


def _seed_demo_updates(home) -> int:
    from cms.models import ProgramUpdateIndexPage, ProgramUpdatePage
    from portal.models import Department

    created = 0
    index = ProgramUpdateIndexPage.objects.first()
    if index is None:
        if home.get_children().filter(slug="updates").exists():
            return 0
        index = ProgramUpdateIndexPage(title="Program updates", slug="updates", intro=UPDATE_INDEX_INTRO)
        _publish_under(home, index)
        created += 1
    existing = set(index.get_children().filter(slug__in=UPDATE_SLUGS).values_list("slug", flat=True))
    for slug, title, summary, body, options in PROGRAM_UPDATES:
        if slug in existing:
            continue
        departments = list(Department.objects.filter(code__in=options.get("departments", [])))
        update = ProgramUpdatePage(
            title=title,
            slug=slug,
            summary=summary,
            body=body(),
            audience_everyone=not departments,
            requires_acknowledgement=options.get("requires_acknowledgement", False),
            critical=options.get("critical", False),
            expires_on=timezone.localdate() + UPDATE_EXPIRES_AFTER if options.get("expires") else None,
        )
        index.add_child(instance=update)
        update.audience_departments.set(departments)
        # Publishing announces the update to its audience (after commit); seed_demo turns e-mail off.
        update.save_revision().publish()
        created += 1
    return created
