"""Trigger words for the entity rules (``entities.py``), in one place to read and extend.

Titles ("Prime Minister X") and role nouns ("activist X") announce people;
organisation words ("Ministry", "Ltd") and role nouns ("carmaker X") organisations;
place words and prepositions places; capitalised sentence words that name
nothing are stop words. Europe Media Monitor keeps such lists per language; these
are English, the language of most of the feeds tidings reads with Latin script.
"""

from __future__ import annotations


def _words(text: str) -> list[str]:
    """Whitespace-separated words of a literal (keeps word lists readable)."""
    return text.split()


# Titles that announce a person when they come right before a name ("Prime Minister X").
TITLE_CORE = frozenset(
    _words("""
    President Premier Minister PM CM NSA Mr Mrs Ms Miss Dr Sir Dame Lord Lady Senator Sen Rep
    Representative Governor Gov Mayor Judge Justice King Queen Prince Princess Pope Sheikh
    General Gen Colonel Col Captain Capt Lieutenant Lt Major Admiral Sergeant Chancellor
    Secretary Advisor Adviser Ambassador Commissioner Director Chairman Chairperson Chairwoman
    Chair CEO Spokesperson Spokesman Spokeswoman Speaker Leader Coach Inspector Superintendent
    Officer Professor Prof Cardinal Bishop Archbishop Imam Rabbi Magistrate Emir Ayatollah
    Councillor Councilor Commander Marshal MP MLA MEP Editor Founder Constable Clerk Sheriff
    Attorney Solicitor Counsel Envoy Detective Congressman Congresswoman Astronaut Collector
    Chief
""")
)
# Words that qualify a title without being one ("Deputy", "Foreign", "National Security").
TITLE_MOD = frozenset(
    _words("""
    Deputy Vice Chief Prime Senior Junior Union State Foreign Defence Defense Home Finance
    External Affairs Commerce Trade Health Education Interior Treasury Security National
    Intelligence Former Acting Opposition Assistant Principal Executive Managing Crown General
    Election Police Industries Army Federal Cabinet Environment Energy Law Justice
""")
)
TITLE_WORDS = TITLE_CORE | TITLE_MOD
# Lower-case role nouns: "activist Hardeep Singh Nijjar", "striker Harry Kane".
ROLE_WORDS = frozenset(
    _words("""
    activist actor actress singer star striker batter batsman bowler captain coach player
    midfielder defender goalkeeper forward journalist reporter author writer director producer
    economist analyst professor minister leader spokesperson spokesman spokeswoman chairman
    founder president premier secretary senator governor mayor lawmaker legislator judge lawyer
    attorney officer official commander chief general envoy ambassador candidate rapper musician
    filmmaker entrepreneur billionaire businessman businesswoman chancellor scientist researcher
    doctor dr mr mrs ms cm pm adviser advisor son daughter wife husband brother sister mother
    father tycoon designer athlete sprinter cricketer footballer boxer wrestler golfer champion
    opener skipper veteran legend superstar teammate separatist militant rebel dissident student
    teacher farmer priest cleric nsa mp mla astronaut counterpart chief executive head cm
    justices
""")
)
# Lower-case nouns that announce an organisation: "carmaker Toyota", "lender HDFC Bank".
ORG_ROLE = frozenset(
    _words("""
    carmaker automaker company firm chipmaker lender bank insurer retailer airline conglomerate
    startup agency newspaper broadcaster club party outfit maker manufacturer group giant brand
    operator exchange regulator insurer channel network union
""")
)
# Organisations that stand for their country's government ("the Kremlin said").
METONYMS = frozenset({"White House", "Pentagon", "Kremlin", "State Department"})
# Words that make a capitalised run an organisation.
ORG_WORDS = frozenset(
    _words("""
    Ltd Limited Inc Corp Corporation Company Co Group Holdings Bank Party Ministry Department
    University College Institute School Council Commission Committee Agency Authority Board
    Court Tribunal Association Federation Union League Club Foundation Trust Society Police Army
    Navy Force Forces Guard Office Bureau Service Services Organisation Organization Fund
    Airlines Airways Motors Industries Technologies Systems Labs Media News Times Post Herald
    Journal Network Channel Television TV Radio Press Exchange Parliament Assembly Congress
    Senate Cabinet Secretariat Directorate Corps Brigade Regiment Hospital Centre Center FC
    United Pharmaceuticals Energy Petroleum Oil Railways Railway Cooperative Front Alliance
    Movement Coalition Council Sabha Samiti Sangh Dal Morcha Brothers Partners Capital Ventures
    Securities Insurance Telecom Electronics Studios Entertainment Records Publishing Ports
    Airport Agreement Navy Argyle Rovers Wanderers Athletic Ministry Department
""")
)
ORG_HEADS = frozenset(
    {
        "Ministry",
        "Department",
        "University",
        "Bank",
        "Institute",
        "Council",
        "Commission",
        "Court",
        "Board",
        "Office",
        "Bureau",
        "Federation",
        "Association",
        "Museum",
        "House",
        "Church",
    }
)
PLACE_WORDS = frozenset(
    {
        "City",
        "County",
        "District",
        "Province",
        "State",
        "Region",
        "Valley",
        "Island",
        "Islands",
        "River",
        "Mountain",
        "Mountains",
        "Lake",
        "Bay",
        "Village",
        "Town",
        "Street",
        "Road",
        "Airport",
        "Port",
        "Border",
        "Sea",
        "Ocean",
        "Gulf",
        "Strait",
        "Peninsula",
        "Coast",
        "Park",
    }
)
PLACE_PREPS = frozenset(
    {"in", "at", "near", "from", "to", "across", "outside", "around", "into", "towards", "toward", "via"}
)
SPEECH = frozenset(
    {
        "said",
        "says",
        "told",
        "added",
        "asked",
        "stated",
        "claimed",
        "wrote",
        "tweeted",
        "posted",
        "announced",
        "noted",
        "argued",
        "insisted",
        "warned",
    }
)
# Capitalised words that start sentences or headlines and name nothing.
STOP_CAPS = frozenset(
    _words("""
    The A An And But Or Nor If In On At By For From Of To With Without As After Before During
    While When Where Why How What Which Who Whom Whose This That These Those There Here It Its
    He She They We You I His Her Their Our Your My Me Him Them Us Not No Yes Also Meanwhile
    However Although Though Since Until Because So Then Now Today Yesterday Tomorrow Tonight
    Last Next Earlier Later Both Each Every All Some Many Most Few Several One Two Three Four
    Five Six Seven Eight Nine Ten First Second Third New Old Monday Tuesday Wednesday Thursday
    Friday Saturday Sunday January February March April May June July August September October
    November December Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec Read More Watch Photo
    Video Live Updates Update Breaking Exclusive Opinion Analysis Editorial Explained Also Read
    Disclaimer Publisher Source Image Credit Getty AFP PTI IANS ANI Reuters AP Story Click Share
    Follow Subscribe Sign Log Top Latest Key Over Under Amid Against Among Between Despite Earth
    Following Including According Like Just Only Even Still Yet Already Another Other Such Same
    Mr Mrs Ms Dr Sir Covid COVID Please Thank Thanks Dear Hello Good Great Big Small High Low
    Part Full Half Rs INR USD Crore Lakh Billion Million Per Percent Chapter Section Page Vol No
""")
)
CONNECTORS = frozenset(
    {
        "of",
        "de",
        "da",
        "del",
        "der",
        "den",
        "van",
        "von",
        "bin",
        "bint",
        "al",
        "el",
        "la",
        "le",
        "du",
        "dos",
        "&",
        "and",
        "for",
        "the",
    }
)
ABBREV = frozenset(
    {
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "St",
        "Jr",
        "Sr",
        "Gen",
        "Lt",
        "Col",
        "Capt",
        "Sen",
        "Rep",
        "Gov",
        "Prof",
        "No",
        "Mt",
        "Ft",
        "Inc",
        "Co",
        "Corp",
        "Ltd",
    }
)
SENT_END = frozenset({".", "!", "?", "…", "।", ":", ";", '"', "“", "”", "(", ")", "|", "—", "–"})
