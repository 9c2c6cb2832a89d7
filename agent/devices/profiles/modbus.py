"""Modbus addressing in a profile: register, data type, word and byte order, request batching."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from agent.devices.profiles.base import StrictModel

ModbusDataType = Literal["int16", "uint16", "int32", "uint32", "float32", "int64", "uint64"]

#: registers (16-bit words) each Modbus data type occupies
MODBUS_WORDS: dict[str, int] = {
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
    "int64": 4,
    "uint64": 4,
}

#: the raw modulus at which an unsigned Modbus energy register wraps to 0
MODBUS_WRAP: dict[str, int] = {"uint16": 2**16, "uint32": 2**32, "uint64": 2**64}


class ModbusRegister(StrictModel):
    """Where a Modbus profile object lives: register address (0-based, as on the wire), table, data type.

    ``word_order`` big: the first register holds the most significant word (Modbus's own convention);
    little: the least significant first ("word swapped", many meters' float32). ``byte_order`` little
    swaps the two bytes inside each register (rare; some gateways).
    """

    address: int = Field(ge=0, le=65535, description="register address as sent on the wire (0-based)")
    function: Literal["holding", "input"] = Field(
        default="holding", description="holding registers (function 3) or input registers (function 4)"
    )
    data_type: ModbusDataType
    word_order: Literal["big", "little"] = "big"
    byte_order: Literal["big", "little"] = "big"

    @property
    def words(self) -> int:
        return MODBUS_WORDS[self.data_type]

    @model_validator(mode="after")
    def _fits(self) -> ModbusRegister:
        if self.address + self.words > 65536:
            raise ValueError(f"{self.data_type} at {self.address} runs past register 65535")
        return self


class ModbusSettings(StrictModel):
    """How a Modbus profile's registers are batched into requests (per profile: what the meter allows)."""

    max_span_registers: int = Field(
        default=100, ge=4, le=125, description="most registers one read asks for (Modbus allows 125)"
    )
    max_gap_registers: int = Field(
        default=0,
        ge=0,
        le=124,
        description="unused registers a read may span to join two ranges: only where the register map "
        "says the registers in between answer (many meters refuse undefined addresses with exception 2)",
    )
