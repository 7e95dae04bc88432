"""PDF: a document a person can read and file. A header with the structure and the patient's
identity on every page, each form with its labels (sections as headings, repeated rows
numbered), notes, documents listed, the circle of care, pathways and messages; page numbers
and the generation date in the footer."""

import unicodedata
from pathlib import Path

from fpdf import FPDF

from plugins.exports import content

# A Unicode font when the system has one (Debian: fonts-dejavu-core); else the PDF core font,
# with the characters it lacks spelled without their accents.
FONTS = Path("/usr/share/fonts/truetype/dejavu")
REGULAR, BOLD = FONTS / "DejaVuSans.ttf", FONTS / "DejaVuSans-Bold.ttf"


class Document(FPDF):
    def __init__(self, view, data):
        super().__init__(format="A4")
        self.view, self.data = view, data
        self.unicode = REGULAR.exists() and BOLD.exists()
        if self.unicode:
            self.add_font("body", "", str(REGULAR))
            self.add_font("body", "B", str(BOLD))
        self.family = "body" if self.unicode else "helvetica"
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(f"Dossier de {data['patient']['display_name']}")
        self.set_creator("Parcours")

    def text_of(self, value):
        value = str(value)
        if self.unicode:
            return value
        value = value.replace("\u2019", "'").replace("œ", "oe").replace("€", "EUR")
        return unicodedata.normalize("NFKD", value).encode("latin-1", "ignore").decode("latin-1")

    def header(self):
        patient, structure = self.data["patient"], self.data["structure"]["name"] or ""
        self.set_font(self.family, "B", 11)
        self.cell(0, 6, self.text_of(structure), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.family, "", 9)
        line = f"{patient['display_name']} · né·e le {_day(patient['birth_date'])}"
        line += f" · identité {patient['identity_status_label'].lower()}"
        if patient.get("ins"):
            line += f" · INS {patient['ins']}"
        self.cell(0, 5, self.text_of(line), new_x="LMARGIN", new_y="NEXT")
        self.line(self.l_margin, self.get_y() + 1, self.w - self.r_margin, self.get_y() + 1)
        self.ln(4)

    def footer(self):
        self.set_y(-13)
        self.set_font(self.family, "", 8)
        generated = self.view.generated_at.astimezone().strftime("%d/%m/%Y %H:%M")
        who = self.data["generated_by"]["name"]
        self.cell(0, 5, self.text_of(f"Généré le {generated} par {who} — document confidentiel"))
        self.cell(0, 5, f"Page {self.page_no()}/{{nb}}", align="R")

    def heading(self, text, size=13):
        self.ln(2)
        self.set_font(self.family, "B", size)
        self.multi_cell(0, 7, self.text_of(text), new_x="LMARGIN", new_y="NEXT")

    def paragraph(self, text, size=10):
        self.set_font(self.family, "", size)
        self.multi_cell(0, 5, self.text_of(text), new_x="LMARGIN", new_y="NEXT")

    def pair(self, label, value, indent=0):
        self.set_x(self.l_margin + indent)
        self.set_font(self.family, "B", 9)
        self.multi_cell(60, 5, self.text_of(label), new_x="RIGHT", new_y="TOP")
        self.set_font(self.family, "", 9)
        self.multi_cell(0, 5, self.text_of(value), new_x="LMARGIN", new_y="NEXT")

    def answers(self, items, indent=0):
        for kind, title, value in items:
            if kind == "field":
                self.pair(title, value, indent)
            elif kind == "section":
                self.set_x(self.l_margin + indent)
                self.heading(title, 10)
                self.answers(value, indent + 4)
            else:
                self.set_x(self.l_margin + indent)
                self.heading(title, 10)
                for number, row in enumerate(value, 1):
                    self.set_x(self.l_margin + indent + 2)
                    self.paragraph(f"{number}.")
                    self.answers(row, indent + 6)


def _day(iso):
    year, _, rest = (iso or "").partition("-")
    month, _, day = rest.partition("-")
    return f"{day}/{month}/{year}" if day else iso or "—"


def build(view):
    data = content.whole(view)
    pdf = Document(view, data)
    pdf.add_page()
    title = {"dossier": "Dossier de coordination", "entry": "Élément du dossier",
             "pathway": "Parcours du dossier"}[view.kind]  # fmt: skip
    pdf.heading(title, 15)
    if view.kind == "dossier":
        pdf.heading("Cercle de soins")
        for member in data["circle"]:
            pdf.pair(member["care_role_label"], member["name"])
        if not data["circle"]:
            pdf.paragraph("Aucun membre.")
    for entry in data["entries"]:
        pdf.heading(f"{entry['kind_label']} — {entry['title'] or entry['category_label']}")
        pdf.paragraph(f"{entry['author']} · {entry['created_at'][:10]} · "
                      f"{entry['category_label']}", 8)  # fmt: skip
        if entry["answers"]:
            pdf.answers(entry["answers"])
        if entry["text"]:
            pdf.paragraph(entry["text"])
        if entry["document"]:
            doc = entry["document"]
            pdf.paragraph(f"Document joint : {doc['filename']} ({doc['size'] or 0} octets)")
    for pathway in data["pathways"]:
        pdf.heading(f"Parcours — {pathway['name']} ({pathway['status']})")
        for task in pathway["tasks"]:
            pdf.pair(task["title"], task["status"])
    if data["messages"]:
        pdf.heading("Discussion du cercle de soins")
        for message in data["messages"]:
            pdf.paragraph(f"{message['author']} · {message['created_at'][:16].replace('T', ' ')}",
                          8)  # fmt: skip
            pdf.paragraph(message["body"])
    return bytes(pdf.output())
