"""A member's data rights from the console: the copy (admins, and coordinators of the member's
group) and the erasure (admins only, confirmed by typing the member's number), both audited."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import AuditEntry
from tests.console.conftest import Console
from tests.console.seed import KIBERA_MEMBER, csrf_of, sign_in


async def _audit(console: Console, action: str) -> list[tuple[int | None, int | None, str | None]]:
    async with console.runtime.database.read() as uow:
        rows = await uow.session.execute(
            select(AuditEntry.staff_id, AuditEntry.member_id, AuditEntry.detail)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_a_coordinator_downloads_a_copy_of_their_groups_member_only(
    console: Console,
) -> None:
    await sign_in(console.client, "juan@example.org")
    amina = console.program.kibera_member
    page = await console.client.get(f"/console/members/{amina}")
    assert f'href="/console/members/{amina}/copy.csv"' in page.text
    assert "/erase" not in page.text  # erasing takes an admin
    response = await console.client.get(f"/console/members/{amina}/copy.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["cache-control"] == "no-store"
    assert "Amina" in response.text and "I sold mangoes at the market" in response.text
    assert "Baraka" not in response.text and "mangoes are cheap here" not in response.text
    other = await console.client.get(f"/console/members/{console.program.other_member}/copy.csv")
    assert other.status_code == 404 and "Baraka" not in other.text
    assert await _audit(console, "exported") == [(console.program.coordinator, amina, None)]


async def test_the_staff_role_gets_no_copy(console: Console) -> None:
    await sign_in(console.client, "sam@example.org")
    response = await console.client.get(
        f"/console/members/{console.program.kibera_member}/copy.csv"
    )
    assert response.status_code == 403 and "Amina" not in response.text
    assert await _audit(console, "exported") == []


async def test_a_coordinator_cannot_erase(console: Console) -> None:
    await sign_in(console.client, "juan@example.org")
    amina = console.program.kibera_member
    token = csrf_of((await console.client.get(f"/console/members/{amina}")).text)
    response = await console.client.post(
        f"/console/members/{amina}/erase", data={"csrf_token": token, "confirm": str(amina)}
    )
    assert response.status_code == 403
    async with console.runtime.database.read() as uow:
        assert not await uow.member_data.erased(amina)


async def test_an_admin_erases_a_member_after_typing_their_number(console: Console) -> None:
    await sign_in(console.client, "grace@example.org")
    amina = console.program.kibera_member
    page = (await console.client.get(f"/console/members/{amina}")).text
    assert f"Type the member&#39;s number ({amina}) to confirm" in page
    token = csrf_of(page)

    without_token = await console.client.post(
        f"/console/members/{amina}/erase", data={"confirm": str(amina)}
    )
    assert without_token.status_code == 403
    wrong = await console.client.post(
        f"/console/members/{amina}/erase", data={"csrf_token": token, "confirm": str(amina + 1)}
    )
    assert wrong.status_code == 303
    after_wrong = (await console.client.get(wrong.headers["location"])).text
    assert "Nothing was erased: type the member" in after_wrong
    async with console.runtime.database.read() as uow:
        assert not await uow.member_data.erased(amina)

    done = await console.client.post(
        f"/console/members/{amina}/erase", data={"csrf_token": token, "confirm": f"#{amina}"}
    )
    assert done.status_code == 303
    page = (await console.client.get(done.headers["location"])).text
    assert f"Member #{amina}&#39;s personal data was erased." in page
    assert "This member&#39;s personal data was erased." in page
    assert "Amina" not in page and "I sold mangoes" not in page and KIBERA_MEMBER not in page
    async with console.runtime.database.read() as uow:
        assert await uow.member_data.erased(amina)
        member = await uow.members.get(amina)
        assert member is not None and not member.name
    [(staff_id, member_id, detail)] = await _audit(console, "erased")
    assert (staff_id, member_id) == (console.program.admin, amina)
    assert detail and "Amina" not in detail

    again = await console.client.post(
        f"/console/members/{amina}/erase", data={"csrf_token": token, "confirm": str(amina)}
    )
    assert "was already erased" in (await console.client.get(again.headers["location"])).text
    assert len(await _audit(console, "erased")) == 1
