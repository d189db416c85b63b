"""Reference geography: locate() on known places, loaders, sampling inside polygons."""

import numpy as np
import pytest

from data import geography
from matcher import DomainError, Zone


def test_locate_gare_du_nord_is_in_the_10th_arrondissement():
    loc = geography.locate(48.8809, 2.3553)
    assert (loc.commune, loc.departement, loc.zone) == ("75110", "75", Zone.PARIS)


def test_locate_saint_denis_basilica_is_in_saint_denis():
    loc = geography.locate(48.9356, 2.3597)
    assert loc.commune == "93066" and loc.departement == "93"
    assert loc.zone is Zone.ILE_DE_FRANCE


def test_locate_nevers_is_in_the_nievre():
    loc = geography.locate(46.9908, 3.1590)
    assert loc.departement == "58" and loc.zone is Zone.PROVINCE
    assert loc.commune == "58194"  # Nevers has a passenger station


def test_locate_pierrefitte_gives_the_commune_it_merged_into():
    # Pierrefitte-sur-Seine (93059, 2018 boundaries) belongs to Saint-Denis (93066) since 2025.
    loc = geography.locate(48.9650, 2.3610)
    assert loc.commune == "93066"


@pytest.mark.parametrize("lat, lon", [(40.0, 2.0), (51.0, 0.5), (48.85, -6.0), (float("nan"), 2.0)])
def test_locate_outside_metropolitan_france_is_refused(lat, lon):
    with pytest.raises(DomainError, match="outside metropolitan France|not a latitude"):
        geography.locate(lat, lon)


def test_loaders_have_the_expected_sizes():
    assert len(geography.arrondissements()) == 20
    assert len(geography.idf_communes()) == 1275  # 1,276 communes less Paris 75056
    assert len(geography.departements()) == 96
    assert geography.arrondissements()["population"].sum() == 2_103_778


def test_sample_points_fall_inside_the_polygon_and_repeat_by_seed():
    poly = geography.arrondissements().geometry.iloc[17]
    a = geography.sample_points(poly, 50, np.random.default_rng(4))
    b = geography.sample_points(poly, 50, np.random.default_rng(4))
    assert np.array_equal(a[0], b[0]) and len(a[0]) == 50
    assert all(geography.locate(lat, lon).commune == "75118" for lon, lat in zip(*a))
