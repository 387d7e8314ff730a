"""The demo hospital: departments, specialties, people in every role, a home page.

Used by ``manage.py seed_demo`` and by tests that want a realistic little
hospital. Every step looks for what exists first, so running it twice
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from portal import services
from portal.models import Department, Profile, Specialty, User
from portal.roles import Role

DEMO_PASSWORD = "second-opinion-demo"  # printed by seed_demo; never used outside the demo
DEMO_DOMAIN = "riverside.example.org"

DEPARTMENTS = [
    ("Internal Medicine", "med", 180),
    ("Emergency Medicine", "ed", 140),
    ("Oncology", "onc", 95),
    ("Cardiology", "card", 80),
    ("Orthopaedics", "ortho", 70),
    ("Neurology", "neuro", 60),
    ("Surgery", "surg", 120),
    ("Second Opinion Program Office", "sop", 8),
]

SPECIALTIES = [
    ("Medical Oncology", "medical-oncology"),
    ("Cardiology", "cardiology"),
    ("Orthopaedic Surgery", "orthopaedic-surgery"),
    ("Neurology", "neurology"),
    ("Gastroenterology", "gastroenterology"),
    ("Rheumatology", "rheumatology"),
]


@dataclass(frozen=True)
class DemoPerson:
    email_local: str
    first_name: str
    last_name: str
    department: str
    job_role: str
    title: str
    roles: tuple[Role, ...]
    review_specialties: tuple[str, ...] = ()
    is_staff: bool = False


PEOPLE = [
    DemoPerson("maria.rivera", "Maria", "Rivera", "med", Profile.JobRole.PHYSICIAN, "Hospitalist", (Role.CLINICIAN,)),
    DemoPerson(
        "samuel.okafor", "Samuel", "Okafor", "ed", Profile.JobRole.NURSE, "Charge nurse, Emergency", (Role.CLINICIAN,)
    ),
    DemoPerson(
        "wei.chen",
        "Wei",
        "Chen",
        "onc",
        Profile.JobRole.PHYSICIAN,
        "Attending, Medical Oncology",
        (Role.CLINICIAN, Role.REVIEWER),
        ("medical-oncology",),
    ),
    DemoPerson(
        "anita.patel",
        "Anita",
        "Patel",
        "card",
        Profile.JobRole.PHYSICIAN,
        "Interventional cardiologist",
        (Role.CLINICIAN, Role.REVIEWER),
        ("cardiology",),
    ),
    DemoPerson(
        "jonas.berg",
        "Jonas",
        "Berg",
        "neuro",
        Profile.JobRole.PHYSICIAN,
        "Neurologist",
        (Role.CLINICIAN, Role.REVIEWER),
        ("neurology",),
    ),
    DemoPerson(
        "grace.lee", "Grace", "Lee", "sop", Profile.JobRole.COORDINATOR, "Program coordinator", (Role.COORDINATOR,)
    ),
    DemoPerson(
        "robert.adams",
        "Robert",
        "Adams",
        "sop",
        Profile.JobRole.ADMINISTRATION,
        "Chief Medical Officer",
        (Role.LEADERSHIP,),
    ),
    DemoPerson(
        "nina.alvarez",
        "Nina",
        "Alvarez",
        "sop",
        Profile.JobRole.ADMINISTRATION,
        "Communications editor",
        (Role.EDITOR,),
    ),
    DemoPerson(
        "it.admin",
        "Dana",
        "Whitfield",
        "sop",
        Profile.JobRole.ADMINISTRATION,
        "Portal administrator",
        (Role.ADMINISTRATOR,),
        is_staff=True,
    ),
]

HOME_INTRO = (
    "<p>This is the home of Riverside's <b>second opinion program</b>. When a patient or a colleague "
    "wants another expert look at a diagnosis or a treatment plan, refer them here: our own specialists "
    "review the case, and the patient stays in Riverside's care.</p>"
)


def demo_email(person: DemoPerson) -> str:
    return f"{person.email_local}@{DEMO_DOMAIN}"


@transaction.atomic
def seed_demo_people() -> list[tuple[DemoPerson, bool]]:
    """Create the demo organisation and people; return each person and whether it was new."""
    services.role_groups_sync()
    for name, code, headcount in DEPARTMENTS:
        Department.objects.get_or_create(code=code, defaults={"name": name, "headcount": headcount})
    for name, slug in SPECIALTIES:
        Specialty.objects.get_or_create(slug=slug, defaults={"name": name})
    departments = {d.code: d for d in Department.objects.all()}
    specialties = {s.slug: s for s in Specialty.objects.all()}
    result = []
    for person in PEOPLE:
        email = demo_email(person)
        if User.objects.filter(email=email).exists():
            result.append((person, False))
            continue
        services.user_create(
            email=email,
            password=DEMO_PASSWORD,
            first_name=person.first_name,
            last_name=person.last_name,
            department=departments[person.department],
            job_role=person.job_role,
            title=person.title,
            roles=person.roles,
            review_specialties=[specialties[s] for s in person.review_specialties],
            is_staff=person.is_staff,
            is_superuser=Role.ADMINISTRATOR in person.roles,
        )
        result.append((person, True))
    return result


@transaction.atomic
def seed_demo_home_page() -> bool:
    """Make a HomePage the root of the default site; return whether it was created."""
    from wagtail.models import Page, Site

    from cms.models import HomePage

    if HomePage.objects.exists():
        return False
    root = Page.get_first_root_node()
    home = root.add_child(instance=HomePage(title="Second Opinion Program", slug="home-portal", intro=HOME_INTRO))
    site = Site.objects.filter(is_default_site=True).first()
    if site is None:
        Site.objects.create(hostname="localhost", port=80, root_page=home, is_default_site=True, site_name="Portal")
    else:
        previous_root = site.root_page
        site.root_page = home
        site.site_name = "Portal"
        site.save()
        # Wagtail's "Welcome to your new Wagtail site" page is not ours to keep.
        if previous_root.specific_class is Page and previous_root.depth == 2:
            previous_root.delete()
    return True
