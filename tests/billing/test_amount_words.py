import pytest

from billing.amount_words import amount_in_words, francs_cfa_in_words


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zéro"),
        (1, "un"),
        (17, "dix-sept"),
        (21, "vingt et un"),
        (71, "soixante et onze"),
        (72, "soixante-douze"),
        (80, "quatre-vingts"),
        (81, "quatre-vingt-un"),
        (91, "quatre-vingt-onze"),
        (100, "cent"),
        (200, "deux cents"),
        (201, "deux cent un"),
        (1000, "mille"),
        (2080, "deux mille quatre-vingts"),
        (80000, "quatre-vingt mille"),
        (200000, "deux cent mille"),
        (1_000_000, "un million"),
        (3_200_000, "trois millions deux cent mille"),
        (26417, "vingt-six mille quatre cent dix-sept"),
        (49417, "quarante-neuf mille quatre cent dix-sept"),
    ],
)
def test_amounts_in_french_words(n, words):
    assert amount_in_words(n) == words


def test_francs_cfa():
    assert francs_cfa_in_words(26417) == "vingt-six mille quatre cent dix-sept francs CFA"
