"""What the site config's sections share: the strict frozen base model and the name pattern."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
