"""Generate include/sample_corpus/field-safety-policy.pdf.

The Field Safety Policy of the fictional company "Northwind Field Robotics"
is part of the sample corpus used to test the ingest pipeline. The text is
original, written for this project, and released under CC0-1.0.

Usage (from the repository root)::

    python dev/milvus_toolkit_dev/sample_corpus/make_pdf.py [OUTPUT_PATH]

(or ``python -m milvus_toolkit_dev.sample_corpus.make_pdf`` in the development venv).

Requires reportlab. The PDF is built with ``invariant=1`` so that the
creation/modification dates and the document ID are fixed, which makes the
output byte-identical across runs with the same reportlab version.
"""

import sys
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer


class PolicyDocTemplate(SimpleDocTemplate):
    """Document template that draws a footer after the page content.

    Drawing the footer at the end of each page (instead of in ``onPage``)
    keeps the page heading first in the extracted text.
    """

    def afterPage(self):
        canvas = self.canv
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(
            2.2 * cm,
            1.2 * cm,
            f"{AUTHOR} - {TITLE} - page {self.page} of {len(PAGES)}",
        )
        canvas.restoreState()


# A developer tool in dev/milvus_toolkit_dev/sample_corpus/: the repository is three levels up.
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_OUTPUT = REPO_ROOT / "include" / "sample_corpus" / "field-safety-policy.pdf"

TITLE = "Field Safety Policy"
AUTHOR = "Northwind Field Robotics"
SUBJECT = "Safety rules for people working with Northwind robots in the field"

# One entry per page: (page heading, [(subheading or None, paragraph), ...]).
PAGES = [
    (
        "Field Safety Policy: Purpose and General Rules",
        [
            (
                None,
                "This policy sets out the safety rules for everyone who works "
                "with Northwind Field Robotics robots on a farm: our own field "
                "technicians and deployment leads, office staff on site visits, "
                "and the growers and farm workers who share the fields with our "
                "robots. It applies to the Furrow R2 and the Canopy T1 and to "
                "all equipment we bring to a site, including base stations, "
                "chargers and charging docks. Where this policy and another "
                "Northwind document disagree, this policy takes precedence.",
            ),
            (
                "Principles",
                "Our robots are designed to be slow, predictable and easy to "
                "stop, but they are still heavy machines with moving tools. We "
                "rely on three principles. First, people always have priority "
                "over robots, crops and schedules. Second, anyone may stop a "
                "robot at any time for a safety reason, without asking and "
                "without having to justify it afterwards. Third, we report near "
                "misses as seriously as accidents, because near misses tell us "
                "where the next accident is likely to happen.",
            ),
            (
                "General Rules on Site",
                "Wear high-visibility clothing and safety boots whenever you are "
                "in a field where robots are working. Agree the working area and "
                "the access routes with the farm contact before the first robot "
                "starts, and mark the robot working area at every gate with the "
                "yellow signs from the van. Do not work alone on a site that has "
                "no mobile coverage unless the operations room knows your "
                "location and the time you expect to check in again.",
            ),
            (
                "Responsibility",
                "The deployment lead is responsible for applying this policy on "
                "each site. Every person on site is responsible for their own "
                "safety and for speaking up when they see an unsafe situation.",
            ),
        ],
    ),
    (
        "Working Near Robots",
        [
            (
                "Exclusion Zone",
                "Keep at least five metres away from a robot that is moving or "
                "has its implement lowered. The robots detect people and large "
                "animals and stop for them, but detection can be slower in tall "
                "crops, in dust or in poor light. Never approach a working robot "
                "from directly in front or directly behind, where the tines and "
                "the spray boom are. If you need to get closer, stop the robot "
                "first and wait until the field app shows that it has stopped.",
            ),
            (
                "Emergency Stops",
                "Every robot has red emergency stop buttons on all four sides and "
                "can also be stopped from the field app and from the operations "
                "room. A pressed button cuts power to the drives and the "
                "implement. Technicians test every button once a day. Any robot "
                "with a button that does not latch, or that keeps moving after a "
                "stop, must be taken out of service immediately and reported to "
                "the workshop.",
            ),
            (
                "Maintenance and Repairs",
                "Before any maintenance, press an emergency stop, confirm the "
                "stopped state in the app, and lower the implement to the ground "
                "or secure it with the locking pin. Never reach under a raised "
                "implement that is held only by its actuator. Wear cut-resistant "
                "gloves when handling tines and when clearing wire, twine or "
                "plastic mulch from the implement.",
            ),
            (
                "Public Access",
                "Some fields are crossed by public footpaths. On these fields "
                "the robots run with reduced speed near the path, warning signs "
                "are placed at both ends, and a person must be able to reach the "
                "field within fifteen minutes while robots are working. Children "
                "and pets must be kept out of any field where robots are running.",
            ),
        ],
    ),
    (
        "Batteries, Chemicals and Incident Reporting",
        [
            (
                "Battery Handling",
                "Battery packs store a lot of energy and weigh about fourteen "
                "kilograms. Lift them with two hands and a straight back, or use "
                "the battery trolley. Transport packs only in the fire-resistant "
                "crates, never loose in the van cabin. A pack that is swollen, "
                "cracked, unusually hot or smelling of solvent must not be "
                "charged or installed. Move it outdoors, away from buildings and "
                "vehicles, if this can be done safely, and call the workshop.",
            ),
            (
                "Plant Protection Products",
                "The Canopy T1 sprayer only uses products supplied by the grower "
                "and approved for the crop. Our staff do not mix or load products "
                "unless they hold the required certificate. Wear the protective "
                "equipment listed on the product label when flushing spray lines "
                "or cleaning nozzles, and flush the system only on the wash pad.",
            ),
            (
                "Reporting Incidents and Near Misses",
                "Report every injury, every damage to property and every near "
                "miss through the incident form in the field app on the same "
                "day. Describe what happened, where, and which robot was "
                "involved, and add photos if it is safe to take them. If anyone "
                "is hurt, give first aid and call the emergency services first; "
                "the form can wait. Incident reports are used to learn, not to "
                "blame, and nobody will be penalised for reporting honestly.",
            ),
            (
                "Review",
                "This policy is reviewed every year before the planting season, "
                "and after any serious incident. Questions about the policy can "
                "be sent to the safety officer at any time.",
            ),
        ],
    ),
]


def build(output_path):
    """Write the three-page Field Safety Policy PDF to ``output_path``."""
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)

    styles = getSampleStyleSheet()
    body = ParagraphStyle("Body", parent=styles["BodyText"], fontSize=10.5, leading=14.5, spaceAfter=8)
    h1 = styles["Heading1"]
    h2 = styles["Heading2"]

    doc = PolicyDocTemplate(
        str(output_path),
        pagesize=A4,
        leftMargin=2.2 * cm,
        rightMargin=2.2 * cm,
        topMargin=2.2 * cm,
        bottomMargin=2.2 * cm,
        title=TITLE,
        author=AUTHOR,
        subject=SUBJECT,
        # The script's path when the committed PDF was made; kept so that a re-run still
        # reproduces that file byte for byte.
        creator="include/sample_corpus_tools/make_pdf.py (reportlab)",
        invariant=1,
    )

    story = []
    for page_number, (heading, sections) in enumerate(PAGES):
        if page_number:
            story.append(PageBreak())
        story.append(Paragraph(heading, h1))
        story.append(Spacer(1, 4))
        for subheading, text in sections:
            if subheading:
                story.append(Paragraph(subheading, h2))
            story.append(Paragraph(text, body))

    doc.build(story)
    return output_path


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT
    written = build(target)
    print(f"wrote {written}")
