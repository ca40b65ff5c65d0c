"""EVM payloads for the policy engine: a transaction or an EIP-712 message, decoded once.

:class:`EvmTx` decodes its calldata when it is built, against a small table of functions the
rules understand (ERC-20 ``approve``/``transfer``/``transferFrom``, Uniswap V2 router swaps and
Uniswap V3 ``exactInputSingle``).
Calldata with a known selector that does not decode, or shorter than a selector, is a problem
(the action is malformed and denied); an unknown selector decodes to nothing and is left to the
selector allowlist. Addresses are canonical (lower-case hex; a mixed-case one must pass EIP-55).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drydock.errors import DrydockError
from drydock.symbols import canonical_address

MAX_UINT256 = 2**256 - 1

#: selector -> (function name, argument names, ABI types) of the calls the rules decode.
KNOWN_CALLS: dict[bytes, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    bytes.fromhex("095ea7b3"): ("approve", ("spender", "amount"), ("address", "uint256")),
    bytes.fromhex("a9059cbb"): ("transfer", ("recipient", "amount"), ("address", "uint256")),
    bytes.fromhex("23b872dd"): (
        "transferFrom",
        ("owner", "recipient", "amount"),
        ("address", "address", "uint256"),
    ),
    bytes.fromhex("38ed1739"): (
        "swapExactTokensForTokens",
        ("amount_in", "amount_out_min", "path", "recipient", "deadline"),
        ("uint256", "uint256", "address[]", "address", "uint256"),
    ),
    bytes.fromhex("7ff36ab5"): (
        "swapExactETHForTokens",
        ("amount_out_min", "path", "recipient", "deadline"),
        ("uint256", "address[]", "address", "uint256"),
    ),
    bytes.fromhex("18cbafe5"): (
        "swapExactTokensForETH",
        ("amount_in", "amount_out_min", "path", "recipient", "deadline"),
        ("uint256", "uint256", "address[]", "address", "uint256"),
    ),
    # Uniswap V3 exactInputSingle takes one static struct, whose ABI encoding is its fields in
    # order, so it decodes as a flat list; SwapRouter (V1) has a deadline, SwapRouter02 has none.
    bytes.fromhex("414bf389"): (
        "exactInputSingle",
        (
            "token_in",
            "token_out",
            "fee",
            "recipient",
            "deadline",
            "amount_in",
            "amount_out_min",
            "sqrt_price_limit",
        ),
        ("address", "address", "uint24", "address", "uint256", "uint256", "uint256", "uint160"),
    ),
    bytes.fromhex("04e45aaf"): (
        "exactInputSingle",
        (
            "token_in",
            "token_out",
            "fee",
            "recipient",
            "amount_in",
            "amount_out_min",
            "sqrt_price_limit",
        ),
        ("address", "address", "uint24", "address", "uint256", "uint256", "uint160"),
    ),
}
SWAPS = frozenset(
    {
        "swapExactTokensForTokens",
        "swapExactETHForTokens",
        "swapExactTokensForETH",
        "exactInputSingle",
    }
)


def _whole(value: object) -> bool:
    """An int that is not a bool (True is an int in Python, never a chain id or an amount)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _address(value: object, name: str, problems: list[str]) -> str:
    try:
        return canonical_address(value, strict=True)  # type: ignore[arg-type]
    except DrydockError as exc:
        problems.append(f"{name}: {exc}")
        return str(value)


@dataclass(frozen=True, slots=True)
class EvmCall:
    """A decoded call: function name, 4-byte selector (hex) and arguments by name (addresses
    canonical, amounts as raw integers, paths as tuples)."""

    name: str
    selector: str
    args: Mapping[str, Any]


def decode_call(data: bytes, problems: list[str]) -> EvmCall | None:
    """The known call ``data`` encodes, None for an unknown selector (or no calldata)."""
    if not data:
        return None
    if len(data) < 4:
        problems.append(f"calldata of {len(data)} bytes is shorter than a 4-byte selector")
        return None
    known = KNOWN_CALLS.get(bytes(data[:4]))
    if known is None:
        return None
    name, names, types = known
    from eth_abi.abi import decode
    from eth_abi.exceptions import DecodingError

    try:
        values = decode(list(types), bytes(data[4:]), strict=True)
    except (DecodingError, ValueError, OverflowError) as exc:
        problems.append(f"calldata for {name} does not decode: {exc}")
        return None
    args: dict[str, Any] = {}
    for arg, kind, value in zip(names, types, values, strict=True):
        if kind == "address":
            args[arg] = _address(value, arg, problems)
        elif kind == "address[]":
            args[arg] = tuple(_address(v, arg, problems) for v in value)
        else:
            args[arg] = int(value)
    if "token_in" in args:  # a V3 single-pool swap: its path is the pair, like a V2 path
        args["path"] = (args["token_in"], args["token_out"])
    return EvmCall(name, data[:4].hex(), args)


@dataclass(frozen=True, slots=True)
class EvmTx:
    """An EVM transaction as the engine sees it (``kind`` ``evm_tx``)."""

    chain_id: int
    sender: str
    to: str
    value_wei: int = 0
    data: bytes = b""
    gas: int = 21_000
    max_fee_per_gas: int = 0
    max_priority_fee_per_gas: int = 0
    call: EvmCall | None = field(init=False, default=None)
    _problems: tuple[str, ...] = field(init=False, default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not (_whole(self.chain_id) and self.chain_id > 0):
            problems.append(f"chain_id={self.chain_id!r} is not a positive integer")
        object.__setattr__(self, "sender", _address(self.sender, "sender", problems))
        object.__setattr__(self, "to", _address(self.to, "to", problems))
        if not (_whole(self.value_wei) and 0 <= self.value_wei <= MAX_UINT256):
            problems.append(f"value_wei={self.value_wei!r} is not an integer in [0, 2**256)")
        if not (_whole(self.gas) and self.gas > 0):
            problems.append(f"gas={self.gas!r} is not a positive integer")
        for name in ("max_fee_per_gas", "max_priority_fee_per_gas"):
            fee = getattr(self, name)
            if not (_whole(fee) and 0 <= fee <= MAX_UINT256):
                problems.append(f"{name}={fee!r} is not an integer >= 0")
        if isinstance(self.data, bytes | bytearray):
            object.__setattr__(self, "call", decode_call(bytes(self.data), problems))
        else:
            problems.append(f"data={self.data!r} is not bytes")
        object.__setattr__(self, "_problems", tuple(problems))

    @property
    def kind(self) -> str:
        return "evm_tx"

    def problems(self) -> tuple[str, ...]:
        return self._problems

    @property
    def selector(self) -> str:
        """The 4-byte selector in hex ("" for a plain value transfer)."""
        return bytes(self.data[:4]).hex() if len(self.data) >= 4 else ""

    @classmethod
    def from_web3(cls, tx: Mapping[str, Any]) -> EvmTx:
        """From a web3 transaction dict (``build_transaction``): hex ``data``, ``chainId``,
        ``from``, ``to``, ``value``, ``gas``, ``maxFeePerGas`` or ``gasPrice``."""
        raw = tx.get("data") or tx.get("input") or b""
        data = (
            bytes.fromhex(raw[2:] if raw.startswith("0x") else raw) if isinstance(raw, str) else raw
        )
        return cls(
            chain_id=tx.get("chainId"),  # type: ignore[arg-type]
            sender=tx.get("from", ""),
            to=tx.get("to", ""),
            value_wei=tx.get("value", 0),
            data=data,
            gas=tx.get("gas", 21_000),
            max_fee_per_gas=tx.get("maxFeePerGas", tx.get("gasPrice", 0)),
            max_priority_fee_per_gas=tx.get("maxPriorityFeePerGas", 0),
        )


@dataclass(frozen=True, slots=True)
class TypedData:
    """An EIP-712 message to sign (``kind`` ``evm_sign_typed_data``): domain, type and message.

    ``Permit`` messages (EIP-2612) are decoded: ``spender`` canonical, ``value`` an integer.
    """

    domain_name: str
    chain_id: int
    verifying_contract: str
    primary_type: str
    message: Mapping[str, Any] = field(default_factory=dict)
    _problems: tuple[str, ...] = field(init=False, default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not (_whole(self.chain_id) and self.chain_id > 0):
            problems.append(f"domain chainId={self.chain_id!r} is not a positive integer")
        contract = _address(self.verifying_contract, "verifyingContract", problems)
        object.__setattr__(self, "verifying_contract", contract)
        if not isinstance(self.domain_name, str) or not self.domain_name.strip():
            problems.append(f"domain name={self.domain_name!r} is empty")
        if self.primary_type == "Permit":
            message = dict(self.message)
            message["spender"] = _address(message.get("spender"), "Permit.spender", problems)
            if not _whole(message.get("value")) or message["value"] < 0:
                problems.append(f"Permit.value={message.get('value')!r} is not an integer >= 0")
            object.__setattr__(self, "message", message)
        object.__setattr__(self, "_problems", tuple(problems))

    @property
    def kind(self) -> str:
        return "evm_sign_typed_data"

    def problems(self) -> tuple[str, ...]:
        return self._problems

    @classmethod
    def from_eip712(cls, full: Mapping[str, Any]) -> TypedData:
        """From the standard ``{"types", "domain", "primaryType", "message"}`` mapping."""
        domain = full.get("domain") or {}
        return cls(
            domain_name=domain.get("name", ""),
            chain_id=domain.get("chainId"),  # type: ignore[arg-type]
            verifying_contract=domain.get("verifyingContract", ""),
            primary_type=full.get("primaryType", ""),
            message=full.get("message") or {},
        )
