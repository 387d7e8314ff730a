"""Demo courses for the demo hospital, and the helper that writes a quiz as Wagtail stores it."""

from __future__ import annotations

import json
import uuid

from django.db import transaction


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


# --- The demo courses -------------------------------------------------------------------------
# Written for Riverside staff, consistent with the intranet pages in cms/demo.py (same targets,
# same promises). Each course: (slug, title, summary, minutes, audience role, lessons, quiz).


def _lessons_strategy():
    from cms.demo import _callout, _h2, _text, _ul

    return [
        (
            "why-patients-ask",
            "Why patients ask for a second look",
            "A serious diagnosis brings a big decision, and wanting a second expert view is reasonable.",
            [
                _text(
                    "<p>Think of the last patient you cared for who heard a frightening diagnosis, or who was "
                    "told they needed a major operation. Many of them will have wondered, quietly or out loud, "
                    "whether another specialist would say the same. That is not distrust of you. It is what "
                    "most of us would want for our own family.</p>"
                ),
                _text(
                    "<p>The question is where they get that second look. Left to themselves, patients search "
                    "online, and they usually find another hospital. Many stay there for their treatment, away "
                    "from the team that already knows them. When one of us refers them to a Riverside "
                    "specialist instead, they get the answer they wanted without leaving our care.</p>"
                ),
                _callout(
                    "info",
                    "<p><b>Nobody is being second-guessed.</b> Asking a colleague for a second look is good "
                    "medicine, and a confirmed plan is a useful answer too.</p>",
                ),
            ],
        ),
        (
            "what-a-second-look-changes",
            "What a second look changes",
            "Second opinions are rarely a rubber stamp: most refine the diagnosis, some change it.",
            [
                _text(
                    "<p>Van Such and colleagues (2017) looked at patients referred to a large academic center "
                    "for a second opinion. The original diagnosis was confirmed in 12% of cases, refined in 66% "
                    "and changed in 21%. A refined or changed diagnosis often means a different plan, and "
                    "sometimes it spares a patient a treatment that would not have helped.</p>"
                ),
                _text(
                    "<p>Our reviewers record the same three outcomes for every opinion they deliver: confirmed, "
                    "refined or changed, for the diagnosis and for the treatment plan. That is how we will know "
                    "what our own program adds, rather than relying on other hospitals' figures.</p>"
                ),
            ],
        ),
        (
            "where-it-fits",
            "Where second opinions fit in our strategy",
            "Quality, equity and growth, built on referrals from our own staff rather than outside vendors.",
            [
                _h2("Three reasons, one program"),
                _ul(
                    "<b>Quality.</b> A structured second look catches missed or incomplete diagnoses before "
                    "treatment starts.",
                    "<b>Equity.</b> A referral from any member of staff opens the same door for every patient, "
                    "whether or not they could pay for a private service or knew whom to call.",
                    "<b>Growth.</b> Patients who get their second opinion here often choose to have their care "
                    "here, with the specialists best placed to give it.",
                ),
                _h2("Why it depends on you"),
                _text(
                    "<p>Many hospitals opened second opinion programs through outside concierge services and "
                    "were disappointed: a concierge serves its own clients, and has no stake in reaching the "
                    "rest of our patients. A program that waits for patients to find it does not grow. The "
                    "people best placed to offer a second opinion are the ones who already know the patient. "
                    "That is why referring takes one short form, and why every referral is credited to you and "
                    "your department.</p>"
                ),
                _callout(
                    "success",
                    "<p>Credit is <b>recognition, not payment</b>. It never turns into money or affects "
                    "anyone's pay, and reviewers are not paid per opinion.</p>",
                ),
            ],
        ),
    ]


QUIZ_STRATEGY = [
    (
        "A patient with a new diagnosis asks whether another specialist would agree with the plan. "
        "What is the most helpful response?",
        [
            ("Reassure them that a second opinion is not needed", False),
            ("Offer to refer them to a Riverside specialist for a second look", True),
            ("Suggest they search online for another hospital", False),
        ],
        "Patients who find a second opinion on their own usually find it elsewhere, and many stay there. "
        "A referral keeps them with a team that knows them.",
    ),
    (
        "In the study by Van Such and colleagues (2017), how often was the original diagnosis refined or changed?",
        [
            ("About one case in ten", False),
            ("About a third of cases", False),
            ("Most cases: 66% refined and 21% changed", True),
        ],
        "Only 12% of diagnoses were confirmed unchanged; 66% were refined and 21% changed.",
    ),
    (
        "Which of these are reasons the program is part of the hospital's strategy? Choose all that apply.",
        [
            ("Quality: catching missed or incomplete diagnoses before treatment", True),
            ("Equity: the same door for every patient, whatever they can pay", True),
            ("Paying physicians a fee for each opinion", False),
            ("Growth: patients often choose to have their care here afterwards", True),
        ],
        "Quality, equity and growth. Reviewers are not paid per opinion.",
    ),
    (
        "What does referral credit mean for the person who refers?",
        [
            ("Recognition for them and their department, never money", True),
            ("A bonus paid with their salary", False),
            ("Priority for their own patients in the queue", False),
        ],
        "Credit is recognition only. It never turns into money, and triage looks only at the clinical question.",
    ),
]


def _lessons_referring():
    from cms.demo import PROGRAM_PHONE, _callout, _h2, _text, _ul

    return [
        (
            "start-from-anywhere",
            "Start from wherever you are",
            "The Refer button is on every intranet page and on the EHR toolbar.",
            [
                _text(
                    "<p>You do not need to find a form or remember an address. The <b>Refer a patient</b> "
                    "button sits at the top of every page of this intranet. On a specialty page, it opens the "
                    "form with that specialty already chosen. Your own name and department come from your "
                    "profile, so you never type them.</p>"
                ),
                _text(
                    "<p>If you are in the patient's chart, use the Refer button on the EHR toolbar instead. It "
                    "opens the same form with the patient's name, record number and date of birth already "
                    "filled in. Check them, add your question, and submit.</p>"
                ),
            ],
        ),
        (
            "a-question-worth-answering",
            "A question worth answering",
            "Six required fields, and one of them matters more than the rest: your question.",
            [
                _h2("What the form needs"),
                _ul(
                    "The patient's name, medical record number and date of birth",
                    "The specialty you are asking",
                    "The question you want answered",
                    "Confirmation that the patient agreed to the referral",
                ),
                _text(
                    "<p>Everything else is optional but helps: whether it is urgent, a date a decision is needed "
                    "by (for example, when surgery is already booked), where the records are, the patient's "
                    "preferred language and whether they need an interpreter, and how they expect to pay.</p>"
                ),
                _callout(
                    "info",
                    "<p><b>Write the question you would ask a colleague in the corridor.</b> \u201cIs surgery "
                    "right now, or is a trial of physical therapy reasonable first?\u201d gets a far more useful "
                    "answer than \u201cPlease review.\u201d</p>",
                ),
            ],
        ),
        (
            "after-you-submit",
            "After you press Submit",
            "A reference number at once, triage within 2 business days, and you hear at every step.",
            [
                _text(
                    "<p>You see a reference number straight away, such as SO-2026-000123. Pressing Submit twice "
                    "by accident still creates only one referral. The program office triages it within 2 "
                    "business days, or the same day if you marked it urgent, and requests any records held "
                    "outside Riverside for you.</p>"
                ),
                _text(
                    "<p>Follow it in <b>My referrals</b>. You are told when it is accepted, when a reviewer "
                    "starts, and when the opinion is ready; the opinion comes back to you, so you can talk it "
                    "through with the patient. If the office or the reviewer has a question, it appears on the "
                    "case and you answer it there. Made a mistake? You can cancel the referral yourself while "
                    f"it is waiting for triage; after that, call {PROGRAM_PHONE}.</p>"
                ),
            ],
        ),
    ]


QUIZ_REFERRING = [
    (
        "You are in a patient's chart and want to refer them. What is the quickest way?",
        [
            ("E-mail the program office with the patient's details", False),
            ("Use the Refer button on the EHR toolbar, which fills in the patient for you", True),
            ("Print the chart and send it to the specialty", False),
        ],
        "The EHR toolbar button opens the referral form with the patient already filled in. Patient details "
        "never belong in e-mail.",
    ),
    (
        "Which of these must every referral include? Choose all that apply.",
        [
            ("The question you want answered", True),
            ("The patient's agreement to the referral", True),
            ("A letter from the patient's insurer", False),
            ("The specialty you are asking", True),
        ],
        "The six required fields are the patient's name, record number and date of birth, the specialty, "
        "your question, and the patient's agreement.",
    ),
    (
        "Which question will get the most useful second opinion?",
        [
            ("\u201cPlease review.\u201d", False),
            ("\u201cIs surgery right now, or is a trial of physical therapy reasonable first?\u201d", True),
            ("\u201cSecond opinion requested as per patient.\u201d", False),
        ],
        "A specific question gets a specific answer.",
    ),
    (
        "How soon does the program office triage a routine referral?",
        [
            ("Within 2 business days (the same day if marked urgent)", True),
            ("Within a month", False),
            ("Only once the patient calls to ask", False),
        ],
        "Routine referrals are triaged within 2 business days, urgent ones the same day.",
    ),
]


def _lessons_equity():
    from cms.demo import PROGRAM_PHONE, _callout, _h2, _text, _ul

    return [
        (
            "the-same-door",
            "The same door for every patient",
            "Our program starts with a clinician who knows the patient, not with the patient's wallet.",
            [
                _text(
                    "<p>Second opinions have often been sold as a premium service for people who can pay "
                    "privately or who know whom to call. The patients who would gain most, such as those facing "
                    "a complex diagnosis with little support around them, are often the least likely to ask.</p>"
                ),
                _text(
                    "<p>Our program works differently. It starts with a referral from someone who knows the "
                    "patient, and every referral goes through the same triage and the same reviewers. Triage "
                    "looks at the clinical question, never at how the patient will pay.</p>"
                ),
            ],
        ),
        (
            "three-boxes-on-the-form",
            "Three boxes on the form that help",
            "Interpreter, self-pay and financial assistance: tick them when they apply.",
            [
                _ul(
                    "<b>Interpreter needed</b>, with the patient's preferred language. The program office "
                    "arranges a qualified interpreter for conversations about the referral and the opinion.",
                    "<b>Self-pay</b>, if the patient has no insurance or expects to pay for the review "
                    "themselves. The office tells the patient the price before the review starts, so there are "
                    "no surprises.",
                    "<b>Financial assistance requested</b>, if cost might stand in the way. The office puts the "
                    "patient in touch with financial counseling.",
                ),
                _text(
                    "<p>For patients with insurance, many plans cover a second opinion, but some need prior "
                    "authorization and some do not cover a review of records without a visit. The program "
                    "office checks before the review starts and tells you if there is a problem.</p>"
                ),
            ],
        ),
        (
            "what-we-can-promise",
            "What we can promise, and what we cannot",
            "Nobody is turned away because they cannot pay; the details belong with financial counseling.",
            [
                _callout(
                    "success",
                    "<p><b>Nobody is turned away from a second opinion because they cannot pay.</b></p>",
                ),
                _h2("Please do not promise a particular outcome"),
                _text(
                    "<p>What help is available depends on the patient's situation, and the rules differ "
                    "between insurers and between assistance programs. We can promise that triage looks at the "
                    "clinical question, and that the office will connect the patient with financial counseling "
                    "when they ask for help. We cannot promise that a particular cost will be covered.</p>"
                ),
                _text(
                    f"<p>For financial assistance, contact financial counseling through {PROGRAM_PHONE}. For an "
                    "interpreter, tick the box on the form or leave a note on the referral.</p>"
                ),
            ],
        ),
    ]


QUIZ_EQUITY = [
    (
        "What does triage look at when deciding whether to accept a referral?",
        [
            ("The clinical question", True),
            ("Whether the patient has insurance", False),
            ("Whether the patient can pay privately", False),
        ],
        "Every referral goes through the same triage and the same reviewers, whatever the patient can pay.",
    ),
    (
        "Your patient is worried about cost. Which boxes on the referral form help? Choose all that apply.",
        [
            ("Financial assistance requested", True),
            ("Self-pay, if they have no insurance or will pay themselves", True),
            ("Urgent, so that it is cheaper", False),
        ],
        "Self-pay means the price is given before the review starts; financial assistance connects the "
        "patient with financial counseling. Urgency is clinical only.",
    ),
    (
        "A patient asks whether their second opinion will be free. What should you say?",
        [
            ("Promise that the hospital will cover it", False),
            ("Tell them nobody is turned away for inability to pay, and point them to financial counseling", True),
            ("Tell them the program is only for insured patients", False),
        ],
        "Help depends on the patient's situation, so we do not promise a particular outcome.",
    ),
    (
        "A patient prefers to talk in Spanish. What is the right step?",
        [
            ("Tick 'Interpreter needed' and give their preferred language on the form", True),
            ("Ask a family member to translate the opinion", False),
            ("Wait until the opinion is ready before mentioning it", False),
        ],
        "The program office arranges a qualified interpreter for conversations about the referral and the opinion.",
    ),
]


def _lessons_reviewers():
    from cms.demo import PROGRAM_PHONE, _callout, _h2, _text, _ul

    return [
        (
            "claiming-a-case",
            "Claiming a case",
            "Your queue shows accepted cases in your specialties, without patient identifiers until you claim.",
            [
                _text(
                    "<p>Your review queue lists accepted cases in the specialties you are credentialed for, and "
                    "only those. Before you claim, you see the question, the reason, the urgency and how long "
                    "the case has waited, but <b>no patient name, record number or contact details</b>. That "
                    "is enough to decide whether the case is one for you.</p>"
                ),
                _text(
                    "<p>Once you claim a case it is yours: only one reviewer can claim each case, so nobody "
                    "duplicates your work. If nobody claims a case within 2 business days, the program office "
                    "assigns a reviewer.</p>"
                ),
            ],
        ),
        (
            "turnaround",
            "Turnaround, and when the clock stops",
            "Claim within 2 business days; deliver within 5 once the records are complete (2 if urgent).",
            [
                _ul(
                    "Claim cases within 2 business days of being accepted.",
                    "Once the records are complete, deliver routine opinions within 5 business days and urgent "
                    "opinions within 2.",
                    "The clock pauses while a case is on hold for records or for the patient, and while a "
                    "question to the referring clinician is open.",
                ),
                _callout(
                    "warning",
                    "<p><b>Cannot finish in time?</b> Release the case with a short reason. It goes back to the "
                    "queue and the office makes sure someone else picks it up. Releasing early is always better "
                    "than letting it wait.</p>",
                ),
            ],
        ),
        (
            "a-useful-opinion",
            "Writing a useful opinion",
            "Answer the question asked, in words the referring clinician can share with the patient.",
            [
                _text(
                    "<p>Start with the answer to the referring clinician's question, then your reasons. Write in "
                    "plain language they can share with the patient. Work from the complete records, not a "
                    "summary.</p>"
                ),
                _h2("Record the outcome"),
                _text(
                    "<p>Say whether the diagnosis and the treatment plan were confirmed, refined or changed, "
                    "list any recommendations, and note whether the patient may be a candidate for a clinical "
                    "trial here. These outcomes are how the program shows what second opinions add; a confirmed "
                    "plan is a useful answer too.</p>"
                ),
                _text(
                    "<p>Each opinion earns review credit, as recognition, never as pay per opinion. If "
                    f"something about the queue gets in the way of reviewing, tell {PROGRAM_PHONE}.</p>"
                ),
            ],
        ),
    ]


QUIZ_REVIEWERS = [
    (
        "What does the review queue show before you claim a case?",
        [
            ("The question, reason, urgency and waiting time, without patient identifiers", True),
            ("The patient's name and record number", False),
            ("Every case in the hospital, whatever the specialty", False),
        ],
        "Identifiers appear only once you have claimed the case.",
    ),
    (
        "Once the records are complete, how long do you have for a routine opinion?",
        [
            ("2 business days", False),
            ("5 business days", True),
            ("30 days", False),
        ],
        "5 business days for routine opinions, 2 for urgent ones, once the records are complete.",
    ),
    (
        "When does the turnaround clock pause? Choose all that apply.",
        [
            ("While the case is on hold for outside records", True),
            ("While a question to the referring clinician is open", True),
            ("Whenever the reviewer is busy with clinic", False),
        ],
        "The clock pauses while we wait for records, for the patient, or for an answer to a question.",
    ),
    (
        "You claimed a case but cannot finish it in time. What should you do?",
        [
            ("Keep it and deliver late", False),
            ("Release it with a short reason so someone else can pick it up", True),
            ("Ask the referring clinician to withdraw it", False),
        ],
        "Releasing early is always better than letting a case wait.",
    ),
]


COURSES = [
    (
        "second-opinions-in-our-strategy",
        "Second opinions in our strategy",
        "Why patients ask for a second look, what it changes, and why referrals from our own staff matter.",
        12,
        "",
        _lessons_strategy,
        QUIZ_STRATEGY,
    ),
    (
        "referring-a-patient-in-one-click",
        "Referring a patient in one click",
        "From the chart or the intranet to a reference number in under a minute, and what happens next.",
        10,
        "",
        _lessons_referring,
        QUIZ_REFERRING,
    ),
    (
        "equity-self-pay-and-financial-assistance",
        "Equity, self-pay and financial assistance",
        "The same door for every patient: interpreters, self-pay, and what we can and cannot promise about cost.",
        10,
        "",
        _lessons_equity,
        QUIZ_EQUITY,
    ),
    (
        "claiming-cases-turnaround-and-writing-a-useful-opinion",
        "Claiming cases, turnaround and writing a useful opinion",
        "For reviewing physicians: the queue, the service-level targets, and an opinion the referrer can use.",
        12,
        "Reviewer",
        _lessons_reviewers,
        QUIZ_REVIEWERS,
    ),
]

# Required of every clinician within this many days of the demo being created.
REQUIRED_FOR_CLINICIANS = {
    "second-opinions-in-our-strategy": (30, 24, "Every clinician, once, then every two years."),
    "referring-a-patient-in-one-click": (45, None, "So that every clinician knows the one-click referral."),
}
REQUIRED_FOR_REVIEWERS = {
    "claiming-cases-turnaround-and-writing-a-useful-opinion": (30, 12, "Before reviewing, then yearly."),
}

COURSE_INDEX_INTRO = (
    "<p>Short courses on our second opinion program: why it matters, how to refer, how we keep it fair, "
    "and, for reviewers, how to give an opinion that helps. Each takes about ten minutes.</p>"
)


@transaction.atomic
def seed_demo_courses() -> int:
    """Create the demo course index, courses, lessons and required training that do not exist yet.

    Returns how many pages were created. Safe to run again: existing pages and
    assignments (matched by slug and course) are kept as editors left them.
    """
    import datetime

    from django.contrib.auth.models import Group
    from django.utils import timezone

    from cms.demo import _publish_under
    from cms.models import HomePage
    from education.models import CourseAssignment, CourseIndexPage, CoursePage, LessonPage
    from portal.roles import Role

    home = HomePage.objects.first()
    if home is None:
        return 0
    created = 0
    index = CourseIndexPage.objects.first()
    if index is None:
        if home.get_children().filter(slug="courses").exists():
            return 0
        index = CourseIndexPage(title="Courses", slug="courses", intro=COURSE_INDEX_INTRO)
        _publish_under(home, index)
        created += 1
    for slug, title, summary, minutes, audience, lessons, quiz in COURSES:
        course = CoursePage.objects.child_of(index).filter(slug=slug).first()
        if course is None:
            course = CoursePage(
                title=title,
                slug=slug,
                summary=summary,
                estimated_minutes=minutes,
                audience_role=audience,
                questions=quiz_stream(quiz),
                pass_mark=75,
                max_attempts=3,
            )
            _publish_under(index, course)
            created += 1
        existing = set(LessonPage.objects.child_of(course).values_list("slug", flat=True))
        for lesson_slug, lesson_title, intro, body in lessons():
            if lesson_slug in existing:
                continue
            _publish_under(course, LessonPage(title=lesson_title, slug=lesson_slug, intro=intro, body=body))
            created += 1

    today = timezone.localdate()
    for role, required in ((Role.CLINICIAN, REQUIRED_FOR_CLINICIANS), (Role.REVIEWER, REQUIRED_FOR_REVIEWERS)):
        group = Group.objects.filter(name=role.value).first()
        for slug, (days, months, note) in required.items():
            course = CoursePage.objects.child_of(index).filter(slug=slug).first()
            if group is None or course is None or CourseAssignment.objects.filter(course=course).exists():
                continue
            assignment = CourseAssignment.objects.create(
                course=course,
                due_date=today + datetime.timedelta(days=days),
                recertify_every_months=months,
                note=note,
            )
            assignment.roles.set([group])
    return created
