"""The naive baseline: FastAPI + a pydantic query model + SQLAlchemy ORM, one commit per request.

This is the endpoint as it is commonly first written: a synchronous handler (FastAPI runs it in its
thread pool), a Session per request, ``commit()`` before answering, SQLite with SQLAlchemy's defaults
(rollback journal, ``synchronous=FULL``). Set ``NAIVE_WAL=1`` for WAL mode. Database: ``NAIVE_DB``.
Needs the ``bench`` extra: ``.venv/bin/pip install -e '.[bench]'``.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated, Literal

from fastapi import FastAPI, Query
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Integer, String, create_engine, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

engine = create_engine(os.environ.get("NAIVE_DB", "sqlite:///naive.db"))
if os.environ.get("NAIVE_WAL") == "1":

    @event.listens_for(engine, "connect")
    def _wal(connection: object, record: object) -> None:
        connection.execute("PRAGMA journal_mode=WAL")  # type: ignore[attr-defined]


class Base(DeclarativeBase):
    pass


class CallEvent(Base):
    __tablename__ = "call_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sid: Mapped[str] = mapped_column(String(36), unique=True)
    from_service_id: Mapped[str] = mapped_column(String)
    from_user_id: Mapped[str] = mapped_column(String)
    to_service_id: Mapped[str] = mapped_column(String)
    to_user_id: Mapped[str] = mapped_column(String)
    type: Mapped[str] = mapped_column(String(1))
    stid: Mapped[str | None] = mapped_column(String, nullable=True)
    setup_time: Mapped[int] = mapped_column(BigInteger)
    start_time: Mapped[int] = mapped_column(BigInteger)
    end_time: Mapped[int] = mapped_column(BigInteger)
    duration: Mapped[int] = mapped_column(BigInteger)
    srcip: Mapped[str] = mapped_column(String)
    dstip: Mapped[str] = mapped_column(String)
    call_end_reason: Mapped[int] = mapped_column(BigInteger)
    terminate: Mapped[int] = mapped_column(BigInteger)
    releaser: Mapped[str] = mapped_column(String)
    rel_code: Mapped[int] = mapped_column(BigInteger)
    rel_code_str: Mapped[str] = mapped_column(String)
    user_rel_code: Mapped[str | None] = mapped_column(String, nullable=True)


Base.metadata.create_all(engine)


class CallEventQuery(BaseModel):
    sid: str = Field(min_length=36, max_length=36)
    from_service_id: str
    from_user_id: str
    to_service_id: str
    to_user_id: str
    type: Literal["A", "V"]
    stid: str | None = None
    setup_time: int
    start_time: int
    end_time: int
    duration: int
    srcip: ipaddress.IPv4Address | ipaddress.IPv6Address
    dstip: ipaddress.IPv4Address | ipaddress.IPv6Address
    call_end_reason: int
    terminate: int
    releaser: str
    rel_code: int
    rel_code_str: str
    user_rel_code: str | None = None


app = FastAPI()


@app.get("/callbacks/planet")
def planet(params: Annotated[CallEventQuery, Query()]) -> dict[str, bool]:
    values = params.model_dump()
    values["srcip"], values["dstip"] = str(params.srcip), str(params.dstip)
    with Session(engine) as session:
        session.add(CallEvent(**values))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
    return {"ok": True}
