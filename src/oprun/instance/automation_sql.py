"""The daemon's records on the run storage's SQL database (SQLite or
PostgreSQL): each record is a JSON body beside the columns that queries filter
and sort on. Transactions, retries on `database is locked` and the translation of
backend errors are the run storage's (`SqlRunStorage.transact`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any, Protocol

import sqlalchemy as sa

from oprun.errors import DagsterInvariantViolationError
from oprun.instance import schema
from oprun.instance.automation_storage import AutomationStorage
from oprun.instance.schema import insert_or_ignore
from oprun.instigation import (
    BulkActionStatus,
    DaemonHeartbeat,
    InstigatorState,
    InstigatorTick,
    InstigatorType,
    PartitionBackfill,
    TickStatus,
)


class _Transacting(Protocol):
    """The run storage this shares a database with (`SqlRunStorage`)."""

    @property
    def engine(self) -> sa.Engine: ...

    def transact(self, fn: Any, what: str | None = None) -> Any: ...


# The statements a daemon's loops run for every tick, as the driver's own SQL:
# building them with SQLAlchemy's expression language cost more than running them.
_GET_STATE = "SELECT body FROM instigators WHERE id = ?"
_UPDATE_STATE = "UPDATE instigators SET name = ?, location_name = ?, instigator_type = ?, status = ?, body = ?, update_timestamp = ? WHERE id = ?"
_INSERT_TICK = "INSERT INTO job_ticks (instigator_id, status, timestamp, body) VALUES (?, ?, ?, ?) RETURNING id"
_UPDATE_TICK = "UPDATE job_ticks SET status = ?, timestamp = ?, body = ? WHERE id = ?"
_LATEST_TICKS = "SELECT id, body FROM job_ticks WHERE instigator_id = ? ORDER BY timestamp DESC, id DESC LIMIT ?"
_UPDATE_HEARTBEAT = "UPDATE daemon_heartbeats SET daemon_id = ?, timestamp = ?, body = ? WHERE daemon_type = ?"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


class SqlAutomationStorage(AutomationStorage):
    def __init__(self, runs: _Transacting) -> None:
        self._runs = runs
        mark = "?" if runs.engine.dialect.paramstyle == "qmark" else "%s"
        self._sql: dict[str, str] = {
            text: text.replace("?", mark) for text in (_GET_STATE, _UPDATE_STATE, _INSERT_TICK, _UPDATE_TICK, _LATEST_TICKS, _UPDATE_HEARTBEAT)
        }

    def _do(self, fn: Any, what: str | None = None) -> Any:
        return self._runs.transact(fn, what)

    # -- schedule and sensor state --

    def get_instigator_state(self, instigator_id: str) -> InstigatorState | None:
        sql = self._sql[_GET_STATE]
        body = self._do(lambda conn: conn.exec_driver_sql(sql, (instigator_id,)).scalar())
        return InstigatorState.from_dict(json.loads(body)) if body else None

    def all_instigator_state(self, instigator_type: InstigatorType | None = None, updated_after: float | None = None) -> list[InstigatorState]:
        table = schema.instigators
        query = sa.select(table.c.body).order_by(table.c.id)
        if instigator_type is not None:
            query = query.where(table.c.instigator_type == instigator_type.value)
        if updated_after is not None:
            query = query.where(table.c.update_timestamp > updated_after)
        rows = self._do(lambda conn: list(conn.execute(query).scalars()))
        return [InstigatorState.from_dict(json.loads(body)) for body in rows]

    def save_instigator_state(self, state: InstigatorState) -> InstigatorState:
        table = schema.instigators
        values = {
            "name": state.name, "location_name": state.location_name, "instigator_type": state.instigator_type.value,
            "status": state.status.value, "body": _dumps(state.to_dict()), "update_timestamp": state.update_timestamp,
        }

        update = self._sql[_UPDATE_STATE]
        params = (*values.values(), state.id)

        def write(conn: sa.Connection) -> None:
            updated = conn.exec_driver_sql(update, params)
            if updated.rowcount == 0:
                inserted = conn.execute(insert_or_ignore(conn, table, "id").values(id=state.id, **values).returning(table.c.id)).first()
                if inserted is None:  # another process inserted it a moment ago: ours is newer
                    conn.execute(table.update().where(table.c.id == state.id).values(**values))

        self._do(write, f"saving the state of {state.instigator_type.value.lower()} '{state.name}'")
        return state

    def delete_instigator_state(self, instigator_id: str) -> None:
        table = schema.instigators
        self._do(lambda conn: conn.execute(table.delete().where(table.c.id == instigator_id)))

    # -- ticks --

    def create_tick(self, tick: InstigatorTick) -> InstigatorTick:
        sql = self._sql[_INSERT_TICK]
        params = (tick.instigator_id, tick.status.value, tick.timestamp, _dumps(tick.to_dict()))

        def write(conn: sa.Connection) -> InstigatorTick:
            # One statement: the body is stored without its id, which readers take
            # from the row (`get_ticks`).
            row = conn.exec_driver_sql(sql, params).first()
            assert row is not None
            return dataclasses.replace(tick, tick_id=int(row[0]))

        result: InstigatorTick = self._do(write, f"storing a tick of '{tick.name}'")
        return result

    def update_tick(self, tick: InstigatorTick) -> InstigatorTick:
        sql = self._sql[_UPDATE_TICK]
        params = (tick.status.value, tick.timestamp, _dumps(tick.to_dict()), tick.tick_id)
        self._do(lambda conn: conn.exec_driver_sql(sql, params), f"updating a tick of '{tick.name}'")
        return tick

    def get_ticks(
        self,
        instigator_id: str,
        before: float | None = None,
        after: float | None = None,
        limit: int | None = None,
        statuses: Sequence[TickStatus] | None = None,
    ) -> list[InstigatorTick]:
        if before is None and after is None and statuses is None and limit is not None:
            # The loops' question, every tick: the latest tick (was it left STARTED?).
            sql = self._sql[_LATEST_TICKS]
            latest = self._do(lambda conn: list(conn.exec_driver_sql(sql, (instigator_id, limit))))
            return [InstigatorTick.from_dict({**json.loads(body), "tick_id": int(tick_id)}) for tick_id, body in latest]
        table = schema.job_ticks
        query = sa.select(table.c.id, table.c.body).where(table.c.instigator_id == instigator_id)
        if before is not None:
            query = query.where(table.c.timestamp < before)
        if after is not None:
            query = query.where(table.c.timestamp > after)
        if statuses is not None:
            query = query.where(table.c.status.in_([TickStatus(s).value for s in statuses]))
        query = query.order_by(table.c.timestamp.desc(), table.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        rows = self._do(lambda conn: list(conn.execute(query)))
        return [InstigatorTick.from_dict({**json.loads(row.body), "tick_id": int(row.id)}) for row in rows]

    # -- daemon heartbeats --

    def add_daemon_heartbeat(self, heartbeat: DaemonHeartbeat) -> None:
        table = schema.daemon_heartbeats
        values = {"daemon_id": heartbeat.daemon_id, "timestamp": heartbeat.timestamp, "body": _dumps(heartbeat.to_dict())}

        update = self._sql[_UPDATE_HEARTBEAT]
        params = (heartbeat.daemon_id, heartbeat.timestamp, values["body"], heartbeat.daemon_type)

        def write(conn: sa.Connection) -> None:
            updated = conn.exec_driver_sql(update, params)
            if updated.rowcount == 0:
                inserted = conn.execute(
                    insert_or_ignore(conn, table, "daemon_type").values(daemon_type=heartbeat.daemon_type, **values).returning(table.c.daemon_type)
                ).first()
                if inserted is None:
                    conn.execute(table.update().where(table.c.daemon_type == heartbeat.daemon_type).values(**values))

        self._do(write, "storing a daemon heartbeat")

    def get_daemon_heartbeats(self) -> dict[str, DaemonHeartbeat]:
        table = schema.daemon_heartbeats
        rows = self._do(lambda conn: list(conn.execute(sa.select(table.c.body)).scalars()))
        beats = [DaemonHeartbeat.from_dict(json.loads(body)) for body in rows]
        return {b.daemon_type: b for b in beats}

    def wipe_daemon_heartbeats(self) -> None:
        self._do(lambda conn: conn.execute(schema.daemon_heartbeats.delete()))

    # -- backfills --

    def add_backfill(self, backfill: PartitionBackfill) -> None:
        table = schema.bulk_actions

        def write(conn: sa.Connection) -> None:
            inserted = conn.execute(
                insert_or_ignore(conn, table, "key").values(
                    key=backfill.backfill_id, status=backfill.status.value, timestamp=backfill.backfill_timestamp,
                    body=_dumps(backfill.to_dict()),
                ).returning(table.c.key)
            ).first()
            if inserted is None:
                raise DagsterInvariantViolationError(f"A backfill with id {backfill.backfill_id} already exists.")

        self._do(write, f"storing backfill {backfill.backfill_id}")

    def update_backfill(self, backfill: PartitionBackfill) -> None:
        table = schema.bulk_actions
        self._do(
            lambda conn: conn.execute(
                table.update().where(table.c.key == backfill.backfill_id)
                .values(status=backfill.status.value, body=_dumps(backfill.to_dict()))
            ),
            f"updating backfill {backfill.backfill_id}",
        )

    def get_backfill(self, backfill_id: str) -> PartitionBackfill | None:
        table = schema.bulk_actions
        body = self._do(lambda conn: conn.execute(sa.select(table.c.body).where(table.c.key == backfill_id)).scalar())
        return PartitionBackfill.from_dict(json.loads(body)) if body else None

    def get_backfills(self, status: BulkActionStatus | None = None, limit: int | None = None) -> list[PartitionBackfill]:
        table = schema.bulk_actions
        query = sa.select(table.c.body).order_by(table.c.id.desc())
        if status is not None:
            query = query.where(table.c.status == status.value)
        if limit is not None:
            query = query.limit(limit)
        rows = self._do(lambda conn: list(conn.execute(query).scalars()))
        return [PartitionBackfill.from_dict(json.loads(body)) for body in rows]

    # -- leases --

    def claim_lease(self, name: str, owner: str, now: float, duration: float, replacing: str | None = None) -> bool:
        table = schema.leases

        def write(conn: sa.Connection) -> bool:
            # One conditional UPDATE, then an INSERT that loses to a concurrent
            # one: either way one statement decides, so two claimants never both win.
            updated = conn.execute(
                table.update()
                .where(table.c.name == name, sa.or_(table.c.owner.in_([owner, replacing or owner]), table.c.expires <= now))
                .values(owner=owner, expires=now + duration)
            )
            if updated.rowcount:
                return True
            # (rowcount is not reported for an INSERT on every driver: RETURNING says whether a row went in)
            inserted = conn.execute(
                insert_or_ignore(conn, table, "name").values(name=name, owner=owner, expires=now + duration).returning(table.c.name)
            ).first()
            return inserted is not None

        claimed: bool = self._do(write, f"claiming the lease '{name}'")
        return claimed

    def release_lease(self, name: str, owner: str) -> None:
        table = schema.leases
        self._do(lambda conn: conn.execute(table.delete().where(table.c.name == name, table.c.owner == owner)))

    def get_lease(self, name: str) -> tuple[str, float] | None:
        table = schema.leases
        row = self._do(lambda conn: conn.execute(sa.select(table.c.owner, table.c.expires).where(table.c.name == name)).first())
        return (str(row.owner), float(row.expires)) if row is not None else None
