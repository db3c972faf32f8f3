"""Normalization for duplicate matching: one Latin skeleton for Cyrillic and Latin spellings,
first-name diminutives, e-mail match keys, company names and role (shared) addresses.

A small explicit table, not a library: what matches is predictable and easy to extend.

    skeleton("Иванов") == skeleton("Ivanov") == "ivanov"
    skeleton("Юлия") == skeleton("Yulia") == skeleton("Iuliia") == skeleton("Julia") == "yulya"
    skeleton("Щукин") == skeleton("Shchukin") == skeleton("Schukin")
    canonical_first_name("Саша") == canonical_first_name("Alex") == "aleksandr"
    email_key("Ivan.Petrov+crm@googlemail.com") == "ivanpetrov@gmail.com"
    email_key("lena@ya.ru") == "lena@yandex.ru"
    company_key("ООО «Ромашка»") == company_key("Romashka, Ltd") == "romashka"
"""

import re
from functools import lru_cache

from rapidfuzz.distance import OSA

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya", "і": "i", "ї": "yi", "є": "ye", "ґ": "g", "ў": "u",
}  # fmt: skip
_TABLE = str.maketrans(_CYRILLIC)
_NOT_LETTER = re.compile(r"[^a-z]+")
_DOUBLE = re.compile(r"([a-zA-Z])\1+")

# Latin spellings folded to one form, in order (each pair: pattern, replacement). Upper-case
# letters stand for one sound written with several letters: S ш/щ, C ч, Z ж, T ц.
_RULES = [
    (re.compile(p), r)
    for p, r in (
        ("shch|sch|sh", "S"),  # щ/ш: Shchukin, Schukin, Шукин
        ("tch|ch", "C"),  # ч
        ("zh", "Z"),  # ж
        ("kh", "h"),  # х: Khabarov, Habarov
        ("ts|tz|cz", "T"),  # ц
        ("ph", "f"),
        ("x", "ks"),
        ("w", "v"),
        ("ck|q", "k"),
        ("c(?=[eiy])", "s"),
        ("c", "k"),
        ("j", "y"),  # й/ю/я: Julia, Yakov
        ("(?<=[aeiou])i(?![aeiouy])", "y"),  # Sergei, Nikolai -> Sergey, Nikolay
        ("(?<=[aeiou])e$", "ey"),  # Andree -> Andrey
        ("^ye", "e"),  # Yelena -> Elena
        ("iy|yy|ii|iy", "i"),  # Dmitriy, Dmitrii
        ("(?<=[^aeiouy])y$", "i"),  # Dmitry -> Dmitri, Petrovsky
        ("iu|yu", "yu"),
        ("iya|ia|iia", "ya"),  # Юлия, Yulia, Iuliia
        ("(?<=[^aeiouy])ie", "ye"),
        ("(?<=.)yo", "e"),  # Solovyov -> Solovev (not Young)
    )
]


@lru_cache(maxsize=200_000)
def skeleton(text: str | None) -> str:
    """One word or name in a common Latin form: case, alphabet and spelling variants folded."""
    s = (text or "").casefold().translate(_TABLE)
    s = _NOT_LETTER.sub("", s)
    s = _DOUBLE.sub(r"\1", s)
    for pattern, repl in _RULES:
        s = pattern.sub(repl, s)
    return _DOUBLE.sub(r"\1", s)


def consonants(text: str | None) -> str:
    """The skeleton without vowels after its first letter (typo-tolerant blocking)."""
    s = skeleton(text)
    return s[:1] + re.sub(r"[aeiouy]", "", s[1:])


# Canonical first name -> its other forms (any alphabet; looked up through skeleton()).
DIMINUTIVES: dict[str, tuple[str, ...]] = {
    "aleksandr": ("александр", "саша", "шура", "саня", "alexander", "alex", "sasha", "alexandr",
                  "aleksander", "sandy"),
    "aleksandra": ("александра", "alexandra", "sandra"),
    "aleksey": ("алексей", "лёша", "леша", "алёша", "алеша", "alexey", "alexei", "aleksei",
                "lyosha", "alyosha"),
    "anastasiya": ("анастасия", "настя", "anastasia", "nastya", "stacy"),
    "anatoliy": ("анатолий", "толя", "anatoly", "tolya"),
    "andrey": ("андрей", "андрюша", "andrei", "andrew", "andy", "andre", "andreas"),
    "anna": ("анна", "аня", "анюта", "ann", "anya", "annie", "anne", "ania"),
    "boris": ("борис", "боря", "borya"),
    "valentina": ("валентина", "валя", "valya"),
    "valeriy": ("валерий", "валера", "valery", "valera"),
    "vasiliy": ("василий", "вася", "vasily", "vasya", "basil"),
    "viktor": ("виктор", "витя", "victor", "vitya"),
    "viktoriya": ("виктория", "вика", "victoria", "vika", "vicky", "vikki"),
    "vladimir": ("владимир", "вова", "володя", "vova", "volodya", "vlad"),
    "vladislav": ("владислав", "влад", "слава", "vladislav", "slava", "vlad"),
    "yaroslav": ("ярослав", "слава", "slava", "yarik"),
    "gennadiy": ("геннадий", "гена", "gennady", "gena"),
    "ilya": ("илья", "илюша", "ilia", "ilyusha", "elijah"),
    "semen": ("семён", "сёма", "semyon", "syoma", "sema", "simon"),
    "polina": ("полина", "поля", "polya", "pauline"),
    "sofya": ("софья", "софия", "соня", "sofia", "sophia", "sophie", "sonya"),
    "lyubov": ("любовь", "люба", "lyuba", "luba"),
    "valeriya": ("валерия", "лера", "valeria", "lera"),
    "tamara": ("тамара", "тома", "toma"),
    "david": ("давид", "dave", "davy"),
    "jessica": ("jess", "jessie"),
    "megan": ("meg",),
    "joshua": ("josh",),
    "galina": ("галина", "галя", "galya"),
    "georgiy": ("георгий", "гоша", "жора", "georgy", "george", "gosha", "zhora", "georg"),
    "grigoriy": ("григорий", "гриша", "grigory", "gregory", "grisha", "greg"),
    "daniil": ("даниил", "данила", "даня", "daniel", "danila", "danya", "dan", "danny"),
    "darya": ("дарья", "даша", "daria", "dasha", "dariya"),
    "dmitriy": ("дмитрий", "дима", "митя", "dmitry", "dima", "mitya", "dmitri"),
    "evgeniy": ("евгений", "женя", "evgeny", "eugene", "yevgeny", "zhenya", "gene"),
    "evgeniya": ("евгения", "женя", "evgenia", "eugenia", "yevgenia", "zhenya"),
    "ekaterina": ("екатерина", "катя", "катерина", "katya", "katerina", "catherine",
                  "katherine", "kate", "kathy", "cathy", "kat", "yekaterina", "kitty"),
    "elena": ("елена", "лена", "lena", "helen", "helena", "yelena", "ellen"),
    "elizaveta": ("елизавета", "лиза", "liza", "elizabeth", "liz", "lizzy", "beth", "betty",
                  "eliza", "elisabeth", "bess"),
    "ivan": ("иван", "ваня", "vanya", "john", "johnny", "jack", "jon"),
    "igor": ("игорь", "игорёк", "igor"),
    "irina": ("ирина", "ира", "ira", "irene"),
    "konstantin": ("константин", "костя", "kostya", "constantine", "konstantine"),
    "kseniya": ("ксения", "ксюша", "ksenia", "ksusha", "xenia"),
    "larisa": ("лариса", "лара", "lara"),
    "lyudmila": ("людмила", "люда", "мила", "ludmila", "luda", "lyuda", "mila"),
    "mariya": ("мария", "маша", "маруся", "maria", "masha", "mary", "marie", "molly", "polly"),
    "margarita": ("маргарита", "рита", "rita", "margaret", "maggie", "meg", "peggy", "marge"),
    "marina": ("марина", "marina"),
    "maksim": ("максим", "макс", "maxim", "max", "maksym"),
    "mikhail": ("михаил", "миша", "misha", "michael", "mike", "mikhael", "mickey"),
    "nadezhda": ("надежда", "надя", "nadya", "nadia", "nadine", "hope"),
    "nataliya": ("наталья", "наталия", "наташа", "natalia", "natasha", "natalie", "nataly"),
    "nikolay": ("николай", "коля", "kolya", "nicholas", "nick", "nicky", "nikolai", "nicolas",
                "klaus"),
    "oleg": ("олег", "олежка"),
    "olga": ("ольга", "оля", "olya", "olia", "helga"),
    "pavel": ("павел", "паша", "pasha", "paul", "pablo"),
    "petr": ("пётр", "петр", "петя", "pyotr", "peter", "pete", "petya", "piotr"),
    "roman": ("роман", "рома", "roma"),
    "svetlana": ("светлана", "света", "sveta", "lana"),
    "sergey": ("сергей", "серёжа", "сережа", "sergei", "serge", "seryozha", "sergio"),
    "stanislav": ("станислав", "стас", "stas", "stan"),
    "stepan": ("степан", "стёпа", "стефан", "stephen", "steven", "steve", "stefan", "styopa"),
    "tatyana": ("татьяна", "таня", "tatiana", "tanya", "tania", "tatjana"),
    "fedor": ("фёдор", "федор", "федя", "fyodor", "theodore", "ted", "teddy", "fedya"),
    "yuliya": ("юлия", "юля", "yulia", "julia", "julie", "iuliia", "yuliya", "yulya", "juliya"),
    "yuriy": ("юрий", "юра", "yury", "yuri", "yura", "george"),
    "yakov": ("яков", "яша", "yasha", "jacob", "jake", "jakob"),
    "william": ("bill", "billy", "will", "willy", "liam", "willem"),
    "robert": ("bob", "bobby", "rob", "robbie", "bert"),
    "richard": ("rick", "ricky", "dick", "rich", "richie"),
    "james": ("jim", "jimmy", "jamie"),
    "joseph": ("joe", "joey", "иосиф", "осип", "josef"),
    "thomas": ("tom", "tommy"),
    "charles": ("charlie", "chuck", "carl", "karl"),
    "edward": ("ed", "eddie", "ted", "ned", "эдуард"),
    "anthony": ("tony", "антон", "anton", "антоний", "тоша"),
    "christopher": ("chris", "kit", "кристофер"),
    "benjamin": ("ben", "benny", "вениамин", "веня"),
    "samuel": ("sam", "sammy", "самуил"),
    "jennifer": ("jen", "jenny"),
    "susan": ("sue", "susie", "suzanne"),
    "patricia": ("pat", "patty", "trish"),
    "deborah": ("debbie", "deb"),
    "rebecca": ("becky", "becca", "ребекка"),
    "matthew": ("matt", "matvey", "матвей", "matvei"),
    "daniela": ("dana",),
    "leonid": ("леонид", "лёня", "леня", "lenya", "leo"),
    "vyacheslav": ("вячеслав", "слава", "slava", "vyacheslav"),
}  # fmt: skip


def _build_canonical() -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {}
    for canonical, forms in DIMINUTIVES.items():
        key = skeleton(canonical)
        for form in (canonical, *forms):
            names = table.setdefault(skeleton(form), [])
            if key not in names:
                names.append(key)
    # A full name is first of all itself ("Евгения" is not "Евгений").
    for full in {skeleton(c) for c in DIMINUTIVES}:
        table[full] = [full] + [n for n in table[full] if n != full]
    return {form: tuple(names) for form, names in table.items()}


_CANONICAL = _build_canonical()


def first_name_forms(name: str | None) -> tuple[str, ...]:
    """Every full name a first name may stand for: "Слава" -> Владислав, Ярослав, Вячеслав
    (skeletons); a name not in the table stands for itself."""
    s = skeleton(name)
    return _CANONICAL.get(s, (s,) if s else ())


def clearly_different_first_names(a: str | None, b: str | None) -> bool:
    """True when two first names cannot be one person's: not the same full name or short form
    (Саша / Alexander are one), and more than one typo apart. Empty names differ from nothing."""
    x, y = first_name_forms(a), first_name_forms(b)
    if not x or not y or set(x) & set(y):
        return False
    return all(not (min(len(p), len(q)) >= 4 and OSA.distance(p, q) <= 1) for p in x for q in y)


def canonical_first_name(name: str | None) -> str:
    """The skeleton of a first name's full form: "Саша", "Alex" -> "aleksandr"."""
    forms = first_name_forms(name)
    return forms[0] if forms else ""


# --- e-mail -------------------------------------------------------------------------------

_GMAIL = {"gmail.com", "googlemail.com"}
# One mailbox under several domains: Yandex delivers every alias to the same box.
_ALIASES = {
    "ya.ru": "yandex.ru",
    "yandex.com": "yandex.ru",
    "yandex.by": "yandex.ru",
    "yandex.kz": "yandex.ru",
    "yandex.ua": "yandex.ru",
    "narod.ru": "yandex.ru",
}

ROLE_LOCAL_PARTS = frozenset(
    """info sales office support admin administrator hello contact contacts mail post team hr
    billing accounts accounting buh bookkeeping noreply no-reply reply reception secretary
    manager marketing press pr media help service orders order shop store booking zakaz
    webmaster postmaster hostmaster abuse security jobs career careers feedback enquiries
    inquiries general company mailbox director ceo priemnaya""".split()
)


def email_key(email: str | None) -> str:
    """The address as it reaches one mailbox: lower-case, +tag dropped; for Gmail also dots;
    Yandex's alias domains as yandex.ru."""
    e = (email or "").strip().lower()
    local, at, domain = e.rpartition("@")
    if not at:
        return e
    local = local.split("+", 1)[0] or local
    if domain in _GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{_ALIASES.get(domain, domain)}"


def is_role_address(email: str | None) -> bool:
    """info@, sales@, office@...: a shared mailbox, not one person."""
    local = (email or "").lower().rpartition("@")[0].split("+", 1)[0]
    return local in ROLE_LOCAL_PARTS or local.replace(".", "").replace("_", "") in ROLE_LOCAL_PARTS


# --- companies ----------------------------------------------------------------------------

_LEGAL_FORMS = frozenset(
    """ооо оао зао пао ао нао ип чп тоо оду ао нко ано фгуп муп гуп llc ltd limited inc
    incorporated corp corporation co company gmbh ag sa sarl srl bv nv plc lp llp oy ab as
    kg ug pte pty ooo oao zao pao ip""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=100_000)
def company_key(name: str | None) -> str:
    """A company name without legal form, quotes and punctuation, transliterated:
    "ООО «Ромашка»", "Ромашка LLC" and "Romashka, Ltd." -> "romashka"."""
    words = [w for w in _WORD.findall((name or "").casefold()) if w not in _LEGAL_FORMS]
    return "".join(skeleton(w) for w in words)
