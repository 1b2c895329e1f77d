"""Python exceptions for the contract's custom errors, decoded from revert data.

Every refusal of the contract is one :class:`ContractRevert` subclass named like the
Solidity error; ``exc.args_`` holds its decoded arguments and ``str(exc)`` reads well.
All three backends (embedded, JSON-RPC, pyrevm) raise the same classes.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ChainError(Exception):
    """Any failure talking to the chain."""


class ContractRevert(ChainError):
    """The contract refused a call; subclasses name the reason."""

    meaning: ClassVar[str] = "the contract reverted"

    def __init__(self, args_: dict[str, Any] | None = None, raw: bytes = b"") -> None:
        self.args_ = args_ or {}
        self.raw = raw
        detail = ", ".join(f"{k}={v}" for k, v in self.args_.items())
        name = type(self).__name__
        super().__init__(f"{name}: {self.meaning}" + (f" ({detail})" if detail else ""))


class UnknownRevert(ContractRevert):
    meaning = "reverted without a known custom error"


class ZeroAmount(ContractRevert):
    meaning = "an amount (Wh, price or payment) is zero"


class AmountOverflow(ContractRevert):
    meaning = "an amount is too large (Wh > 2^32-1, price > 2^64-1 wei/kWh, credit > 2^96-1)"


class ZeroAddress(ContractRevert):
    meaning = "the zero address is not allowed here"


class WrongPayment(ContractRevert):
    meaning = "the value sent (wei) is not the exact cost"


class UnknownId(ContractRevert):
    meaning = "no such offer, request or trade"


class OrderClosed(ContractRevert):
    meaning = "the order was cancelled or has nothing left"


class ExceedsRemaining(ContractRevert):
    meaning = "more Wh requested than the order has left"


class NotMember(ContractRevert):
    meaning = "the account is not an active community member"


class AlreadyMember(ContractRevert):
    meaning = "the account is already a member"


class TooManyMembers(ContractRevert):
    meaning = "member limit (65,535) reached"


class WrongRole(ContractRevert):
    meaning = "the caller lacks the role (admin, oracle or coordinator) for this call"


class NotOwner(ContractRevert):
    meaning = "only the order's owner or the trade's buyer may do this"


class SelfTrade(ContractRevert):
    meaning = "a member cannot trade with itself"


class BadWindow(ContractRevert):
    meaning = "the delivery window is not one the trading schedule allows"


class OutsideWindow(ContractRevert):
    meaning = "not allowed at this time (times are UTC unix seconds)"


class BadSchedule(ContractRevert):
    meaning = "invalid trading schedule"


class BadGrace(ContractRevert):
    meaning = "the grace period must be between 1 second and 7 days"


class AlreadySettled(ContractRevert):
    meaning = "the trade was already confirmed or reclaimed"


class DeliveredTooMuch(ContractRevert):
    meaning = "delivered Wh exceed the contracted Wh"


class NothingToWithdraw(ContractRevert):
    meaning = "no credit to withdraw"


class TransferFailed(ContractRevert):
    meaning = "the payout transfer failed"


class Reentrancy(ContractRevert):
    meaning = "re-entrant call refused"


class InsufficientCredit(ContractRevert):
    meaning = "the buyer's deposited credit (wei) does not cover the batch escrow"


class EmptyBatch(ContractRevert):
    meaning = "a batch needs at least one order and one match (confirmBatch: one trade)"


class LengthMismatch(ContractRevert):
    meaning = "confirmBatch needs as many delivered Wh as trade ids"


class BadSignature(ContractRevert):
    meaning = "an order's EIP-712 signature does not match its maker"


class OrderExpired(ContractRevert):
    meaning = "a signed order has expired"


class NonceUsed(ContractRevert):
    meaning = "a signed order's nonce was already consumed (replay)"


class WindowMismatch(ContractRevert):
    meaning = "a signed order is for another delivery window than the batch"


class WrongSide(ContractRevert):
    meaning = "a match does not pair a sell order with a buy order"


class PriceOutOfLimit(ContractRevert):
    meaning = "a match price is outside the orders' limit prices"


class Overfill(ContractRevert):
    meaning = "matches exceed an order's Wh"


class BadPreference(ContractRevert):
    meaning = (
        "a match claims a trading preference the buyer did not sign (or a partner match"
        " whose seller is not the buyer's partner)"
    )


class Disputed(ContractRevert):
    meaning = "the trade is disputed: only the admin or the oracle can settle it"


class NotDisputed(ContractRevert):
    meaning = "the trade is not disputed"


class BadRole(ContractRevert):
    meaning = "no such role (0 admin, 1 oracle, 2 coordinator)"


class NoProposal(ContractRevert):
    meaning = "no role change is pending for this role"


class TooEarly(ContractRevert):
    meaning = "the role change's delay has not passed yet (times are UTC unix seconds)"


class StaleNonce(ContractRevert):
    meaning = "nonces can only be invalidated upwards (lastNonce is already at or above)"


REVERTS: dict[str, type[ContractRevert]] = {
    c.__name__: c for c in ContractRevert.__subclasses__() if c is not UnknownRevert
}
