"""EVM transaction rules (``[transaction.evm]``): chains, contracts and selectors, decoded
ERC-20 and router arguments, native value and gas caps, EIP-712 domains. Deny by default.

An ``evm_tx`` passes only if its chain is listed, its ``to`` is a listed contract whose selector
list holds the call's selector (a plain value transfer instead needs an allowlisted
destination), and every decoded argument is within the rules:

- ``approve``: the spender is allowlisted and the amount is neither unlimited (2**256-1) nor above
  the token's ``max_approve`` (unless ``allow_unlimited_approve``); the token must be listed.
- ``transfer``/``transferFrom``: the recipient is an allowlisted destination, the amount within
  the token's ``max_transfer``.
- Uniswap V2 swaps and V3 ``exactInputSingle``: every path token listed for the chain, the recipient is the wallet itself,
  ``amountOutMin`` > 0 (a swap without slippage protection is denied) and the deadline, when the
  call has one, not past (no clock in the context: denied).

``evm_sign_typed_data`` passes only for a listed EIP-712 domain (name, chainId,
verifyingContract) and primary type; a ``Permit`` needs an allowlisted spender and a value within
the token's ``max_approve``. What an EVM action spends (native value, token transfers, swap
inputs) feeds the value and rolling caps (:func:`evm_spends`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, field_validator, model_validator

from drydock.policy._evm_payload import MAX_UINT256, SWAPS, EvmCall, EvmTx, TypedData
from drydock.policy._schema import Section, canonical_list, canonical_one
from drydock.policy._transaction import Spend
from drydock.symbols import canonical_address, canonical_token
from drydock.types import Action, Severity, Violation

if TYPE_CHECKING:
    from drydock.policy._config import Policy
    from drydock.policy._context import PolicyContext


def _address_field() -> Any:
    """A fresh validator canonicalizing an ``address`` field (one per model class)."""
    return field_validator("address")(canonical_one(canonical_address))


ChainId = Annotated[int, Field(gt=0)]


class EvmChain(Section):
    """A chain the wallet may use, its native asset and per-transaction caps."""

    chain_id: ChainId
    native: str = "ETH"
    max_value: float | None = Field(default=None, ge=0)  # native units (ETH, not wei)
    max_fee_per_gas_gwei: float | None = Field(default=None, gt=0)
    max_gas: int | None = Field(default=None, gt=0)

    _native = field_validator("native")(canonical_one(canonical_token))


class EvmContract(Section):
    """A contract ``to`` may name, with the function selectors callable on it."""

    chain_id: ChainId
    address: str
    name: str = ""
    selectors: list[str] = Field(min_length=1)

    _address = _address_field()

    @field_validator("selectors")
    @classmethod
    def _selectors(cls, values: list[str]) -> list[str]:
        """Accept 0x-hex selectors or signatures like "approve(address,uint256)"."""
        from eth_utils.abi import function_signature_to_4byte_selector

        out = []
        for raw in values:
            text = raw.strip()
            if "(" in text:
                out.append(function_signature_to_4byte_selector(text.replace(" ", "")).hex())
            elif len(text) == 10 and text.startswith("0x"):
                try:
                    out.append(bytes.fromhex(text[2:]).hex())
                except ValueError:
                    raise ValueError(f"selector {raw!r} is not hex, e.g. 0x095ea7b3") from None
            else:
                raise ValueError(
                    f"selector {raw!r} is neither 0x + 8 hex digits nor a signature like "
                    '"approve(address,uint256)"'
                )
        return out


class EvmToken(Section):
    """An ERC-20 the rules can decode amounts of: symbol, decimals and per-action caps."""

    chain_id: ChainId
    address: str
    symbol: str
    decimals: int = Field(ge=0, le=36)
    max_approve: float | None = Field(default=None, gt=0)  # whole units
    max_transfer: float | None = Field(default=None, gt=0)  # whole units

    _address = _address_field()
    _symbol = field_validator("symbol")(canonical_one(canonical_token))


class TypedDomain(Section):
    """An EIP-712 domain the wallet may sign for, and the primary types allowed in it."""

    name: str = Field(min_length=1)
    chain_id: ChainId
    verifying_contract: str
    primary_types: list[str] = Field(min_length=1)

    _contract = field_validator("verifying_contract")(canonical_one(canonical_address))


class EvmRules(Section):
    """Rules for ``evm_tx`` and ``evm_sign_typed_data`` actions."""

    chains: list[EvmChain] = Field(min_length=1)
    contracts: list[EvmContract] = Field(default_factory=list)
    tokens: list[EvmToken] = Field(default_factory=list)
    spenders: list[str] = Field(default_factory=list)
    destinations: list[str] = Field(default_factory=list)
    allow_unlimited_approve: bool = False
    typed_data_domains: list[TypedDomain] = Field(default_factory=list)

    _spenders = field_validator("spenders")(canonical_list(canonical_address))
    _destinations = field_validator("destinations")(canonical_list(canonical_address))

    @model_validator(mode="after")
    def _known_chains(self) -> EvmRules:
        chains = {c.chain_id for c in self.chains}
        for group in (self.contracts, self.tokens):
            for item in group:
                if item.chain_id not in chains:
                    raise ValueError(
                        f"{item.address} is on chain {item.chain_id}, which is not in "
                        f"transaction.evm.chains ({', '.join(map(str, sorted(chains)))}); add it"
                    )
        return self

    def chain(self, chain_id: int) -> EvmChain | None:
        return next((c for c in self.chains if c.chain_id == chain_id), None)

    def contract(self, chain_id: int, address: str) -> EvmContract | None:
        return next(
            (c for c in self.contracts if c.chain_id == chain_id and c.address == address), None
        )

    def token(self, chain_id: int, address: str) -> EvmToken | None:
        return next(
            (t for t in self.tokens if t.chain_id == chain_id and t.address == address), None
        )


def _deny(rule: str, message: str, suggestion: str) -> Violation:
    return Violation(f"transaction.{rule}", "transaction", Severity.CRITICAL, message, suggestion)


def evm_rules(action: Action, ctx: PolicyContext, policy: Policy) -> list[Violation]:
    """Violations of the EVM rules by an ``evm_tx`` or ``evm_sign_typed_data`` action."""
    rules = policy.transaction.evm
    if rules is None:
        return [
            _deny(
                "evm_not_configured",
                f"the policy has no [transaction.evm] rules, so an {action.kind} is denied",
                "add [transaction.evm] with chains, contracts and tokens",
            )
        ]
    payload = action.payload
    if isinstance(payload, TypedData):
        return _typed_data_rules(payload, rules)
    if not isinstance(payload, EvmTx):  # the Action already flags a wrong payload as malformed
        return [_deny("evm_payload", f"{payload!r} is not an EVM payload", "build an EvmTx")]
    if action.wallet and action.wallet != payload.sender:
        return [
            _deny(
                "wallet_mismatch",
                f"the transaction is from {payload.sender}, not the action's wallet {action.wallet}",
                "sign with the wallet the action names",
            )
        ]
    chain = rules.chain(payload.chain_id)
    if chain is None:
        return [
            _deny(
                "chain_not_allowed",
                f"chain id {payload.chain_id} is not allowed",
                "add it to transaction.evm.chains",
            )
        ]
    out = _chain_caps(payload, chain)
    if payload.data:
        out.extend(_call_rules(payload, rules, ctx))
    elif payload.to not in rules.destinations:
        out.append(
            _deny(
                "destination_not_allowed",
                f"a value transfer to {payload.to} is not to an allowlisted destination",
                "add it to transaction.evm.destinations",
            )
        )
    return out


def _chain_caps(tx: EvmTx, chain: EvmChain) -> list[Violation]:
    out = []
    value = tx.value_wei / 10**18
    if chain.max_value is not None and value > chain.max_value:
        out.append(
            _deny(
                "native_value",
                f"value {value:g} {chain.native} exceeds the cap {chain.max_value:g} per transaction",
                "send less or raise max_value of the chain",
            )
        )
    gwei = tx.max_fee_per_gas / 1e9
    if chain.max_fee_per_gas_gwei is not None and gwei > chain.max_fee_per_gas_gwei:
        out.append(
            _deny(
                "gas_price",
                f"max fee {gwei:g} gwei exceeds the cap {chain.max_fee_per_gas_gwei:g} gwei",
                "wait for cheaper gas or raise max_fee_per_gas_gwei",
            )
        )
    if chain.max_gas is not None and tx.gas > chain.max_gas:
        out.append(
            _deny(
                "gas_limit",
                f"gas limit {tx.gas:,} exceeds the cap {chain.max_gas:,}",
                "lower the gas limit or raise max_gas",
            )
        )
    return out


def _call_rules(tx: EvmTx, rules: EvmRules, ctx: PolicyContext) -> list[Violation]:
    contract = rules.contract(tx.chain_id, tx.to)
    if contract is None:
        return [
            _deny(
                "contract_not_allowed",
                f"contract {tx.to} on chain {tx.chain_id} is not allowlisted",
                "add it to [[transaction.evm.contracts]]",
            )
        ]
    if tx.selector not in contract.selectors:
        shown = tx.call.name if tx.call else "an unknown function"
        return [
            _deny(
                "selector_not_allowed",
                f"selector 0x{tx.selector} ({shown}) is not allowed on {contract.name or tx.to}",
                "add it to the contract's selectors",
            )
        ]
    call = tx.call
    if call is None:
        return []  # an allowlisted selector the rules do not decode: its arguments are unchecked
    if call.name == "approve":
        return _approve(tx.chain_id, tx.to, call, rules)
    if call.name in ("transfer", "transferFrom"):
        return _transfer(tx.chain_id, tx.to, call, rules)
    if call.name in SWAPS:
        return _swap(tx, call, rules, ctx)
    return []


def _approve(chain_id: int, token_address: str, call: EvmCall, rules: EvmRules) -> list[Violation]:
    out = []
    spender, amount = call.args["spender"], call.args["amount"]
    if spender not in rules.spenders:
        out.append(
            _deny(
                "approve_spender",
                f"approve to {spender}, which is not an allowlisted spender",
                "approve only allowlisted spenders (transaction.evm.spenders)",
            )
        )
    token = rules.token(chain_id, token_address)
    if token is None:
        out.append(_unknown_token(chain_id, token_address))
        return out
    if amount >= MAX_UINT256:  # the conventional "infinite" allowance: only by explicit rule
        if not rules.allow_unlimited_approve:
            out.append(
                _deny(
                    "approve_unlimited",
                    f"an unlimited approve of {token.symbol}",
                    "approve the amount needed (or set allow_unlimited_approve = true)",
                )
            )
    elif token.max_approve is not None and amount / 10**token.decimals > token.max_approve:
        out.append(
            _deny(
                "approve_amount",
                f"approve of {amount / 10**token.decimals:,.6g} {token.symbol} exceeds the cap "
                f"{token.max_approve:,.6g}",
                "approve less or raise the token's max_approve",
            )
        )
    return out


def _transfer(chain_id: int, token_address: str, call: EvmCall, rules: EvmRules) -> list[Violation]:
    out = []
    recipient = call.args["recipient"]
    if recipient not in rules.destinations:
        out.append(
            _deny(
                "transfer_destination",
                f"{call.name} to {recipient}, which is not an allowlisted destination",
                "add it to transaction.evm.destinations",
            )
        )
    token = rules.token(chain_id, token_address)
    if token is None:
        out.append(_unknown_token(chain_id, token_address))
        return out
    amount = call.args["amount"] / 10**token.decimals
    if token.max_transfer is not None and amount > token.max_transfer:
        out.append(
            _deny(
                "transfer_amount",
                f"{call.name} of {amount:,.6g} {token.symbol} exceeds the cap "
                f"{token.max_transfer:,.6g}",
                "send less or raise the token's max_transfer",
            )
        )
    return out


def _swap(tx: EvmTx, call: EvmCall, rules: EvmRules, ctx: PolicyContext) -> list[Violation]:
    out = []
    foreign = [t for t in call.args["path"] if rules.token(tx.chain_id, t) is None]
    if foreign or not call.args["path"]:
        out.append(
            _deny(
                "swap_path",
                f"swap path holds tokens that are not listed: {', '.join(foreign) or '(empty)'}",
                "swap only listed tokens ([[transaction.evm.tokens]])",
            )
        )
    if call.args["recipient"] != tx.sender:
        out.append(
            _deny(
                "swap_recipient",
                f"swap output goes to {call.args['recipient']}, not the wallet {tx.sender}",
                "swap to the wallet itself",
            )
        )
    if call.args["amount_out_min"] <= 0:
        out.append(
            _deny(
                "swap_no_min_out",
                "amountOutMin is 0: the swap has no slippage protection",
                "quote the swap and set amountOutMin from the quote",
            )
        )
    deadline = call.args.get("deadline")  # SwapRouter02's exactInputSingle carries none
    if deadline is not None and (ctx.now is None or deadline < ctx.now.timestamp()):
        shown = "no clock was given" if ctx.now is None else "it has passed"
        out.append(
            _deny(
                "swap_deadline",
                f"the swap deadline {call.args['deadline']} cannot be trusted: {shown}",
                "set a deadline a few minutes ahead and pass now in the context",
            )
        )
    return out


def _unknown_token(chain_id: int, address: str) -> Violation:
    return _deny(
        "unknown_token",
        f"token {address} on chain {chain_id} is not listed, so its amounts cannot be judged",
        "add it to [[transaction.evm.tokens]] with its decimals",
    )


def _typed_data_rules(data: TypedData, rules: EvmRules) -> list[Violation]:
    domain = next(
        (
            d
            for d in rules.typed_data_domains
            if (d.name, d.chain_id, d.verifying_contract)
            == (data.domain_name, data.chain_id, data.verifying_contract)
        ),
        None,
    )
    if domain is None:
        return [
            _deny(
                "typed_data_domain",
                f"EIP-712 domain {data.domain_name!r} on chain {data.chain_id} at "
                f"{data.verifying_contract} is not allowed",
                "add it to [[transaction.evm.typed_data_domains]]",
            )
        ]
    if data.primary_type not in domain.primary_types:
        return [
            _deny(
                "typed_data_type",
                f"primary type {data.primary_type!r} is not allowed in {domain.name!r}",
                "add it to the domain's primary_types",
            )
        ]
    if data.primary_type != "Permit":
        return []
    out = []
    if data.message["spender"] not in rules.spenders:
        out.append(
            _deny(
                "permit_spender",
                f"Permit to {data.message['spender']}, which is not an allowlisted spender",
                "permit only allowlisted spenders (transaction.evm.spenders)",
            )
        )
    token = rules.token(data.chain_id, data.verifying_contract)
    value = data.message["value"]
    if value >= MAX_UINT256:
        if not rules.allow_unlimited_approve:
            out.append(
                _deny("approve_unlimited", "an unlimited Permit", "permit the amount needed")
            )
    elif (
        token is not None
        and token.max_approve is not None
        and value / 10**token.decimals > token.max_approve
    ):
        out.append(
            _deny(
                "approve_amount",
                f"Permit of {value / 10**token.decimals:,.6g} {token.symbol} exceeds the "
                f"cap {token.max_approve:,.6g}",
                "permit less or raise the token's max_approve",
            )
        )
    return out


def evm_spends(action: Action, policy: Policy) -> tuple[Spend, ...]:
    """What an ``evm_tx`` moves out of the wallet: its native value (to ``to``), the amount of a
    decoded ERC-20 ``transfer``/``transferFrom`` (to the recipient) and a swap's input (to the
    router). Approvals and signatures move nothing by themselves (their caps bind instead)."""
    tx, rules = action.payload, policy.transaction.evm
    if not isinstance(tx, EvmTx) or rules is None:
        return ()
    chain = rules.chain(tx.chain_id)
    native = chain.native if chain else "ETH"
    out = []
    if tx.value_wei:
        out.append(Spend(native, tx.value_wei / 10**18, tx.to))
    call = tx.call
    if call is None:
        return tuple(out)
    if call.name in ("transfer", "transferFrom"):
        token = rules.token(tx.chain_id, tx.to)
        if token is not None:
            amount = call.args["amount"] / 10**token.decimals
            out.append(Spend(token.symbol, amount, call.args["recipient"]))
    elif "amount_in" in call.args and call.args["path"]:  # token-input swaps (V2 and V3)
        token = rules.token(tx.chain_id, call.args["path"][0])
        if token is not None:
            out.append(Spend(token.symbol, call.args["amount_in"] / 10**token.decimals, tx.to))
    return tuple(out)
