"""Phone numbers and id-like numbers for the pii tests (and bench/pii_phones.py).

PHONES: hand-written sentences, each with the phone number it holds (fictional numbers: the
UK Ofcom drama ranges, US 555, made-up German/French/Indian ones), with and without context
words. IDS: hand-written and real id-like numbers that Presidio's PhoneRecognizer reports as
phone numbers; the real ones are quoted from ../shared/data/ (debian_descriptions.jsonl.gz:
Debian package descriptions, each under its package's free licence; chitchat.jsonl.gz: PyPI
chitchat-dataset, MIT; python_docs_corpus.jsonl.gz: Debian's python3.11-doc, PSF-2.0; WordNet:
see WORDNET_ROWS).
"""

from __future__ import annotations

PHONES = [
    # with a context word (phone, number, telephone, cell, mobile, call)
    ("Call me on +44 20 7946 0958 after six.", "+44 20 7946 0958"),
    ("My phone number is (555) 123-4567.", "(555) 123-4567"),
    ("Phone: 555-123-4567", "555-123-4567"),
    ("call me on 0176 12345678", "0176 12345678"),
    ("Mobile: +49 176 12345678", "+49 176 12345678"),
    ("Telephone 020 7946 0958 (office)", "020 7946 0958"),
    ("You can reach the front desk by phone at +1 415-555-0132.", "+1 415-555-0132"),
    ("Cell: 07700 900123", "07700 900123"),
    ("Call 98765 43210 for the Mumbai office", "98765 43210"),
    ("phone +972 3-123-4567", "+972 3-123-4567"),
    ("Mobile +55 11 91234-5678", "+55 11 91234-5678"),
    ("Call +1 (416) 555-0199", "+1 (416) 555-0199"),
    ("The office number changed to +1 212 555 0187 last week.", "+1 212 555 0187"),
    ("Her number (0171) 1234567 is new.", "(0171) 1234567"),
    # without one
    ("+44 20 7946 0958", "+44 20 7946 0958"),
    ("(555) 123-4567", "(555) 123-4567"),
    ("555-123-4567", "555-123-4567"),
    ("0176 12345678", "0176 12345678"),
    ("Tel. +33 1 42 68 53 00", "+33 1 42 68 53 00"),
    ("tel:+14155550132", "+14155550132"),
    ("Ruf mich an: 030 12345678", "030 12345678"),
    ("Ask Maria, 0176 12345678, before Friday.", "0176 12345678"),
    ("Write to us or try 020 7946 0958 during office hours.", "020 7946 0958"),
    ("Our Berlin office: 030/12345678.", "030/12345678"),
    ("Contact +91 98765 43210 anytime.", "+91 98765 43210"),
    ("Reach the hotel at 01 42 68 53 00.", "01 42 68 53 00"),
    ("Text 07700 900456 when you land.", "07700 900456"),
    ("I'm at 089 1234567, extension 12.", "089 1234567, extension 12"),
    ("Mail or 0044 20 7946 0958", "0044 20 7946 0958"),
    ("Ring 212.555.0187 tonight", "212.555.0187"),
    ("Numbers: 555-123-4567, 555-987-6543.", "555-123-4567"),
    ("Numbers: 555-123-4567, 555-987-6543.", "555-987-6543"),
    ("Fax 0176 12345678/0176 87654321", "0176 12345678"),
    ("Fax 0176 12345678/0176 87654321", "0176 87654321"),
    # chitchat's phrasing; its (real-looking) number swapped for a fictional 555-01xx one
    ("giiiirllll (808) 555-0143 That's my number hahaha", "(808) 555-0143"),
]

# Each is reported as a phone number by Presidio 2.2's PhoneRecognizer, and is none.
IDS = [
    "02190015-n",  # WordNet synset ids: 8 digits starting 02 are valid German landlines
    "part ABC-02190166 in stock",
    "build 02190465-rc1",
    "ISBN 0-201-63361-2",  # debian
    "ISBN:0850860369",  # debian
    "see doi:10.1214/aos/1176347963 here",  # debian
    "Grant No. SES-0518772.",  # debian
    "169.254.0.0/16",  # debian
    "server 192.168.19.72",
    "Pi is 3.143589568 roughly",  # debian
    "renounced judicial torture in 1640",  # WordNet
    "Ireland (1688-1689)",  # WordNet
    "Charles I; 1644-1648",  # WordNet
    "So during the 1800 1800's there was",  # chitchat
    "https://vimeo.com/16845253",  # debian
    "ISO-TP (ISO 15765-2 2016) tools",  # debian
    "ISSN 0304- 3991.",  # debian
    "1.5e-06   2   1  -3   0   0   0   0    0    0",  # debian
    "It contains 16801 headwords",  # debian
    "See Bug #383517.",  # debian
    "of Crete that flourished 3000-1100 BC",  # WordNet
    "'2019-05-18T15:17:08.132263'",  # python_docs
    "From print_time 1652342840.369612 default",  # python_docs
    ">>> print(cos(0.5+0j))        (0.87758256189+0j)",  # python_docs
    "telnet 127.0.0.1 8081",  # python_docs
    "...    1 2 3 4 5 6 7 8 9 10    >>>",  # python_docs
    # Unix times: ten bare digits from 1000000000 (2001) to 1999999999 (2033), or after a key
    "This module can convert 1337000000 → 15d 11h 23m",  # debian
    "created 1700000000 by the job",
    '{"time": 1700000000, "level": "info"}',
    "ts=1699999999.123 level=info",
    "modified_at: 2125550187",  # a time key: a time even beyond 2033
]

# Real rows of ../shared/data/wordnet_glosses.jsonl.gz (Princeton WordNet 3.0 via Debian's
# wordnet-base, WordNet 3.0 licence: free use, copying and distribution with this notice;
# the field lexname_id is left out).
# Before the fix the pii step found a phone number in each of the first four synset ids and
# in the three years / year ranges.
WORDNET_ROWS = [
    {"synset": "02190015-n", "pos": "noun", "words": ["Muscidae", "family Muscidae"],
     "definition": "two-winged flies especially the housefly", "examples": []},
    {"synset": "02190166-n", "pos": "noun", "words": ["fly"],
     "definition": "two-winged insects characterized by active flight", "examples": []},
    {"synset": "02190648-n", "pos": "noun", "words": ["Musca", "genus Musca"],
     "definition": "type genus of the Muscidae: houseflies", "examples": []},
    {"synset": "01380118-n", "pos": "noun", "words": ["lactobacillus"],
     "definition": "a Gram-positive rod-shaped bacterium that produces lactic acid "
     "(especially in milk)", "examples": []},
    {"synset": "00422834-n", "pos": "noun", "words": ["judicial torture"],
     "definition": "torture that is sanctioned by the state and executed by duly accredited "
     "officials", "examples": ["the English renounced judicial torture in 1640"]},
    {"synset": "01304121-n", "pos": "noun", "words": ["English Civil War"],
     "definition": "civil war in England between the Parliamentarians and the Royalists under "
     "Charles I; 1644-1648", "examples": []},
    {"synset": "01304356-n", "pos": "noun",
     "words": ["English Revolution", "Glorious Revolution", "Bloodless Revolution"],
     "definition": "the revolution against James II; there was little armed resistance to "
     "William and Mary in England although battles were fought in Scotland and Ireland "
     "(1688-1689)", "examples": []},
]  # fmt: skip
