"""Words the generators draw from: people, places, brands, products, copy variants."""

from __future__ import annotations

from data_synth.rng import Rand

FIRST = ("Alice", "Bruno", "Chen", "Dana", "Elif", "Farah", "Gustav", "Hana", "Ivan", "Jonas",
         "Keiko", "Liam", "Maya", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tomás",
         "Uma", "Victor", "Wen", "Yara", "Zoe", "Aarav", "Beatriz", "Carlos", "Dmitri", "Esther")
LAST = ("Novak", "Okafor", "Lindqvist", "Ferreira", "Haddad", "Kowalski", "Nakamura", "Rossi",
        "Schmidt", "Tanaka", "Valdez", "Walsh", "Yilmaz", "Zhang", "Moreau", "Patel", "Berg",
        "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Ibrahim", "Jensen", "Khan", "Larsen")
DOMAINS = ("example.com", "mail.test", "inbox.example", "corp.example", "studio.test")
BRAND_A = ("North", "Blue", "Bright", "Swift", "Cedar", "Quiet", "Copper", "Lumen", "Maple",
           "Pixel", "Harbor", "Orbit", "Summit", "Willow", "Nimbus", "Atlas", "Ember", "Fable")
BRAND_B = ("Desk", "Cart", "Mail", "Works", "Base", "Hub", "Lane", "Stack", "Nest", "Flow",
           "Point", "Box", "Field", "Loop", "Yard", "Grid")
COUNTRIES = ("Argentina", "Australia", "Austria", "Belgium", "Brazil", "Canada", "Chile",
             "Denmark", "Egypt", "Finland", "France", "Germany", "Ghana", "India", "Ireland",
             "Italy", "Japan", "Kenya", "Mexico", "Netherlands", "New Zealand", "Norway", "Peru",
             "Poland", "Portugal", "Spain", "Sweden", "Turkey", "United Kingdom", "Vietnam")
CITIES = ("Lisbon", "Oslo", "Denver", "Osaka", "Nairobi", "Lyon", "Porto", "Austin", "Leeds",
          "Graz", "Utrecht", "Cork", "Perth", "Tromsø", "Kraków")
STREETS = ("Elm Street", "Harbor Road", "Mill Lane", "Oak Avenue", "Station Road", "Park Row",
           "Bridge Street", "Cedar Court", "Market Square", "Hill Crescent")
COLOURS = ("Blue", "Green", "Red", "Black", "White", "Grey", "Yellow", "Orange", "Teal", "Pink",
           "Navy", "Olive", "Purple", "Beige")
# colour word → a swatch the product picture is drawn in
SWATCH = {"Blue": "#2f6fde", "Green": "#2f9e57", "Red": "#d64545", "Black": "#222222",
          "White": "#f2f2f2", "Grey": "#8a8f98", "Yellow": "#e6c229", "Orange": "#ea7a2c",
          "Teal": "#1f9e9a", "Pink": "#e0679b", "Navy": "#233a6b", "Olive": "#7a7f2a",
          "Purple": "#7d4cc9", "Beige": "#d9c7a3"}
PRODUCTS: dict[str, tuple[str, ...]] = {
    "Kitchen": ("Mug", "Teapot", "Bowl", "Water Bottle", "Cutting Board", "Apron"),
    "Office": ("Notebook", "Desk Lamp", "Pen Set", "Stapler", "Monitor Stand", "Planner"),
    "Outdoor": ("Backpack", "Tent", "Sleeping Bag", "Camp Chair", "Lantern", "Rain Jacket"),
    "Apparel": ("T-Shirt", "Hoodie", "Cap", "Scarf", "Socks", "Sneakers"),
    "Home": ("Cushion", "Throw Blanket", "Vase", "Candle", "Picture Frame", "Rug"),
}
SUBJECTS = ("Quarterly report", "Team offsite plan", "Invoice #{n}", "Design review notes",
            "Lunch on Friday?", "Contract renewal", "Welcome aboard", "Server maintenance window",
            "Budget draft v{n}", "Interview schedule", "Travel itinerary", "Feedback on the proposal",
            "Weekly sync agenda", "Password expiry notice", "Conference tickets", "Launch checklist",
            "Customer escalation #{n}", "Holiday rota", "Expense claim", "New office keys")
SNIPPETS = ("Please find the details attached.", "Can we move this to next week?",
            "Let me know what you think.", "Here is the summary from yesterday.",
            "Thanks for the quick turnaround.", "A few open questions below.",
            "Reminder: this is due soon.", "Sharing the latest version for review.")
REPLIES = ("Thanks, looks good to me.", "Sounds good, see you then.", "I will take a look today.",
           "Approved, please go ahead.", "Can you send the final numbers?",
           "Thanks for the update.", "Let's discuss on Monday.")


def person(rng: Rand) -> tuple[str, str]:
    """(full name, email) of a made-up person."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    email = f"{_ascii(first).lower()}.{_ascii(last).lower()}@{rng.choice(DOMAINS)}"
    return f"{first} {last}", email


def people(rng: Rand, n: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    while len(out) < n:
        p = person(rng)
        if all(p[0] != q[0] and p[1] != q[1] for q in out):
            out.append(p)
    return out


def brand(rng: Rand) -> str:
    return rng.choice(BRAND_A) + rng.choice(BRAND_B).lower()


def password(rng: Rand) -> str:
    word = rng.choice(("Sunset", "Harbor", "Maple", "Falcon", "Copper", "Meadow", "Glacier"))
    return f"{word}{rng.int(10, 99)}{rng.choice(('x', 'q', 'z', '!', '#'))}"


def _ascii(s: str) -> str:
    return s.replace("á", "a").replace("é", "e").replace("ø", "o")
