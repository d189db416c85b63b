"""What officers, structure managers and planners do in the pages, in a real browser."""

from __future__ import annotations

import re

from playwright.sync_api import expect

WAITING_CHILD = "C-1"      # 8 years old, sector 8 (home in the 18th)
FRATRIE = "F-1"            # C-2 and C-3, same home in the 19th
SECRET = "Secret home"


def free_places_of(user, structure_name: str) -> int:
    """Free places the places page shows for a structure (sum over its units)."""
    user.open("/web/places")
    rows = user.page.locator("#places tbody tr").filter(has_text=structure_name)
    return sum(int(rows.nth(i).locator("td").nth(5).inner_text()) for i in range(rows.count()))


def test_officer_finds_a_child_holds_a_place_and_confirms(people):
    alice = people("alice")
    expect(alice.page.locator("h1")).to_have_text("Enfants en attente")
    alice.accessible()
    alice.screenshot("waiting-children")
    row = alice.page.locator("#children tbody tr").filter(has_text=WAITING_CHILD)
    expect(row).to_have_count(1)
    row.get_by_role("link", name=WAITING_CHILD).click()
    alice.page.wait_for_load_state("networkidle")
    first = alice.page.locator("#proposals > li").first
    expect(first).to_contain_text("MECS")
    expect(alice.page.locator("#map svg")).to_have_count(1)
    alice.accessible()
    alice.screenshot("proposals")
    name = first.locator("strong").inner_text()
    before = free_places_of(alice, name)
    alice.page.go_back()
    alice.page.wait_for_load_state("networkidle")
    alice.page.locator("#proposals > li").first.get_by_role("button").click()
    expect(alice.page.locator("#message")).to_contain_text("réservée")
    alice.screenshot("held")
    assert free_places_of(alice, name) == before - 1
    alice.accessible()
    alice.open("/web/holds")
    row = alice.page.locator("#holds tbody tr").filter(has_text=WAITING_CHILD)
    row.get_by_role("button", name="Confirmer").click()
    expect(alice.page.locator("#message")).to_contain_text("confirmée")
    expect(alice.page.locator("#holds tbody tr").filter(has_text=WAITING_CHILD)).to_contain_text("confirmée")
    alice.accessible()
    alice.screenshot("confirmed")


def test_second_officer_on_the_same_last_place_sees_the_conflict_in_words(people):
    alice, bruno = people("alice"), people("bruno")
    # both open the same fratrie's proposals; the first takes the place, the second is refused
    for who in (alice, bruno):
        who.open(f"/web/groups/{FRATRIE}")
    alice.page.locator("#proposals > li").first.get_by_role("button").click()
    expect(alice.page.locator("#message")).to_contain_text("réservée")
    bruno.page.locator("#proposals > li").first.get_by_role("button").click()
    expect(bruno.page.locator("#message")).to_contain_text("n'est plus disponible")
    bruno.screenshot("conflict")


def test_a_fratrie_is_held_in_one_step(people):
    chloe = people("alice")
    chloe.open(f"/web/groups/{FRATRIE}")
    chloe.accessible()
    chloe.page.locator("#proposals > li").first.get_by_role("button", name=re.compile("fratrie")).click()
    expect(chloe.page.locator("#message")).to_contain_text("réservée")
    chloe.open("/web/holds")
    row = chloe.page.locator("#holds tbody tr").filter(has_text="C-2")
    expect(row).to_contain_text("C-3")
    chloe.screenshot("fratrie-held")


def test_structure_manager_declares_a_vacancy_and_an_officer_sees_it(people):
    mona = people("mona")
    expect(mona.page.locator("h1")).to_have_text("Mes unités")
    mona.accessible()
    row = mona.page.locator("#units tbody tr").filter(has_text="U-near-12")
    capacity = row.locator("input").first
    capacity.fill(str(int(capacity.input_value()) + 2))
    row.get_by_role("button", name="Déclarer").click()
    expect(mona.page.locator("#message")).to_contain_text("déclarée")
    mona.screenshot("declared")
    occupied = row.locator("input").nth(1)  # more occupied than places: refused, in French words
    occupied.fill(str(int(capacity.input_value()) + 1))
    row.get_by_role("button", name="Déclarer").click()
    expect(mona.page.locator("#message")).to_contain_text("Conflit : Unité U-near-12 : une capacité de")
    expect(mona.page.locator("#message")).to_contain_text("est inférieure aux")
    alice = people("alice")
    alice.open("/web/places")
    expect(alice.page.locator("#places tbody tr").filter(has_text="U-near-12")).to_contain_text("5")
    alice.accessible()
    alice.screenshot("places-after-declaration")


def test_officer_cannot_open_a_planners_page_nor_another_services_child_nor_see_a_secret_place(people):
    chloe = people("chloe")
    chloe.open("/web/planning")
    expect(chloe.page.get_by_role("alert")).to_contain_text("Accès refusé")
    chloe.accessible()
    chloe.screenshot("refused")
    chloe.open(f"/web/children/{WAITING_CHILD}")
    expect(chloe.page.locator("#message")).to_contain_text("Introuvable")
    chloe.open("/web/places")
    expect(chloe.page.locator("#places")).not_to_contain_text(SECRET)
    assert SECRET not in chloe.page.content()


def test_planner_compares_two_scenarios_and_downloads_the_report(people):
    paul = people("paul")
    expect(paul.page.locator("h1")).to_have_text("Planification")
    paul.accessible()
    boxes = paul.page.locator("#scenario-choices input[type=checkbox]")
    assert boxes.count() >= 2
    paul.page.get_by_role("button", name="Lancer la comparaison").click()
    expect(paul.page.locator("#comparison table")).to_be_visible(timeout=120_000)
    paul.accessible()
    paul.screenshot("comparison")
    with paul.page.expect_download() as info:
        paul.page.get_by_role("link", name="Télécharger le rapport").click()
    report = info.value.path().read_text(encoding="utf-8")
    assert "<html" in report and "http://" not in report.replace("http://www.w3.org", "")


def test_planner_builds_a_scenario_reviews_a_rebalancing_plan_and_a_simulation(people):
    paul = people("paul")
    paul.page.locator("#scenario-choices input[type=checkbox]").nth(1).uncheck()
    paul.page.get_by_role("button", name="Partir du dernier exemple coché").click()
    assert "(modifié)" in paul.page.locator("#scenario-text").input_value()
    paul.page.locator("#scenario-text").fill("name: Mal écrit\nchanges:\n  - open: {places: -3}\n")
    paul.page.get_by_role("button", name="Lancer la comparaison").click()
    expect(paul.page.locator("#message")).to_contain_text("ligne 3, changes[0].open.places", timeout=20_000)  # by line and key
    paul.page.get_by_role("button", name="Proposer un plan").click()
    expect(paul.page.locator("#rebalance")).to_contain_text("déplacement(s) proposé(s)", timeout=60_000)
    paul.page.get_by_role("button", name="Simuler").click()
    expect(paul.page.locator("#simulation table")).to_contain_text("Part de l'optimum a posteriori", timeout=120_000)
    paul.accessible()
    paul.screenshot("planning")
    paul.open("/web/jobs")
    expect(paul.page.locator("#jobs tbody")).to_contain_text("simulation")
    expect(paul.page.locator("#jobs tbody")).to_contain_text("terminé")  # each job's message in French
    assert "done" not in paul.page.locator("#jobs tbody").inner_text().split()
    paul.accessible()
    paul.screenshot("jobs")
