// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title EnergyMarket: peer-to-peer solar energy trading with escrow and metered settlement.
/// @notice Units: energy in Wh (uint32), prices in wei per kWh (uint64), times in UTC unix
/// seconds (uint40), money in wei. The cost of `wh` Wh at `price` wei/kWh is
/// floor(wh * price / 1000) wei.
/// @dev Storage is packed: one 32-byte word per order or trade, two batch trades per word,
/// members addressed by a 16-bit index, credits next to the member's address. History is in
/// events; the Python client (gridpeer.chain) decodes the packed words.
///
/// Ids are tagged in their two low bits: offer `n<<2|1`, request `n<<2|2`, trade split off an
/// order `((n<<1|isRequest)<<16|fill)<<2|3`, batch trade `(batch<<16|i)<<2`. A purchase or fill
/// that takes the whole remainder of an order turns that order's word into the trade, which
/// keeps the order's id (so an offer bought in full costs no new storage slot).
contract EnergyMarket {
    // ------------------------------------------------------------------ errors
    error ZeroAmount();
    error AmountOverflow();
    error ZeroAddress();
    error WrongPayment(uint256 expected, uint256 sent);
    error UnknownId(uint256 id);
    error OrderClosed(uint256 id);
    error ExceedsRemaining(uint256 requestedWh, uint256 remainingWh);
    error NotMember(address account);
    error AlreadyMember(address account);
    error TooManyMembers();
    error WrongRole(address account);
    error NotOwner(uint256 id, address account);
    error SelfTrade();
    error BadWindow(uint256 start, uint256 end);
    error OutsideWindow(uint256 nowTs, uint256 opens, uint256 closes);
    error BadSchedule();
    error AlreadySettled(uint256 tradeId);
    error DeliveredTooMuch(uint256 deliveredWh, uint256 contractedWh);
    error NothingToWithdraw();
    error TransferFailed();
    error Reentrancy();
    error InsufficientCredit(uint256 available, uint256 needed);
    error EmptyBatch();
    error BadSignature(uint256 orderIndex);
    error OrderExpired(uint256 orderIndex);
    error NonceUsed(uint256 orderIndex);
    error WindowMismatch(uint256 orderIndex);
    error WrongSide(uint256 matchIndex);
    error PriceOutOfLimit(uint256 matchIndex);
    error Overfill(uint256 matchIndex);
    error Disputed(uint256 tradeId);
    error BadGrace(uint256 graceSeconds);
    error BadRole(uint256 role);
    error NoProposal(uint256 role);
    error TooEarly(uint256 nowTs, uint256 eta);
    error StaleNonce(uint256 lastNonce);
    error NotDisputed(uint256 tradeId);

    // ------------------------------------------------------------------ events
    event MemberAdded(address indexed member, uint256 idx);
    event MemberRemoved(address indexed member, uint256 idx);
    /// role: 0 admin, 1 oracle, 2 coordinator. RoleSet: the change took effect (at
    /// deployment, or executeRole after the proposal's delay).
    event RoleSet(uint256 indexed role, address account);
    /// A role change proposed by the admin; it can take effect from `eta` (unix s) on.
    event RoleProposed(uint256 indexed role, address account, uint256 eta);
    event RoleProposalCancelled(uint256 indexed role, address account);
    event ScheduleSet(uint256 mode, int256 tzMinutes, uint256 slotMinutes, uint16[6] windows);
    event GraceSet(uint256 graceSeconds);
    /// order word: owner idx | wh<<16 | price<<48 | start<<112 | end<<152 | bidLead<<192 |
    /// grace<<212 | fills<<232 (bidLead: bidding opened bidLead s before start, 0 = any time)
    event OfferPosted(uint256 indexed offerId, uint256 order);
    event RequestPosted(uint256 indexed requestId, uint256 order);
    event Cancelled(uint256 indexed orderId, uint256 remainingWh, uint256 refund);
    /// trade word: seller | buyer<<16 | wh<<32 | price<<64 | start<<128 | end<<168 | fills<<208 |
    /// grace<<224 | extraWei<<254 | 1<<255
    event TradeCreated(uint256 indexed tradeId, uint256 orderId, uint256 trade);
    /// settlement: deliveredWh | sellerPaid<<32 | buyerRefund<<128
    event DeliveryConfirmed(uint256 indexed tradeId, uint256 settlement);
    event Reclaimed(uint256 indexed tradeId, uint256 refund);
    /// The oracle's two meters disagree: seller metered `sellerWh`, buyer `buyerWh`.
    event DisputeOpened(uint256 indexed tradeId, uint256 sellerWh, uint256 buyerWh);
    event DisputeResolved(uint256 indexed tradeId, uint256 deliveredWh);
    /// header: start | end<<40 | count<<80 | grace<<96; trades: two records (seller|buyer<<16|wh<<32|price<<64)
    /// per word, record i in word i/2 at bit (i%2)*128.
    event BatchSettled(uint256 indexed batchId, uint256 header, uint256[] trades);
    /// The member revoked every signed order with a nonce below `below`.
    event NonceInvalidated(address indexed member, uint256 below);
    event Deposited(address indexed member, uint256 amount);
    event Withdrawn(address indexed member, uint256 amount);

    // ------------------------------------------------------------------ types
    struct Market {
        uint32 nextOffer;
        uint32 nextRequest;
        uint32 nextBatch;
        uint8 mode; // 0 always open, 1 bidding/delivery windows, 2 continuous slots
        int16 tzMinutes; // local time = UTC + tzMinutes
        uint8 slotMinutes; // continuous mode slot length
        uint16 bid1; // windows, minutes of the local day
        uint16 del1;
        uint16 end1;
        uint16 bid2;
        uint16 del2;
        uint16 end2;
        uint32 graceSeconds; // for trades made from now on; each trade keeps its own
    }

    /// A pending role change: `account` may take the role from `eta` (UTC unix s) on.
    struct Proposal {
        address account;
        uint40 eta;
    }

    struct Member {
        uint16 idx; // 1-based, 0 = never registered
        bool active;
    }

    struct Account {
        address addr;
        uint96 credit; // wei withdrawable
    }

    /// An order signed off-chain (EIP-712) by its maker, settled by the coordinator.
    struct SignedOrder {
        address maker;
        bool sell;
        uint32 wh;
        uint64 price;
        uint40 start;
        uint40 end;
        uint32 nonce;
        uint40 expiry;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    struct Match {
        uint16 sellOrder; // index into the orders array
        uint16 buyOrder;
        uint32 wh;
        uint64 price; // wei per kWh, between the sell limit and the buy limit
    }

    // ------------------------------------------------------------------ constants
    uint256 private constant M16 = 0xffff;
    uint256 private constant M20 = 0xfffff;
    uint256 private constant M31 = 0x7fffffff;
    uint256 private constant M32 = 0xffffffff;
    uint256 private constant M40 = 0xffffffffff;
    uint256 private constant M64 = 0xffffffffffffffff;
    uint256 private constant M96 = (1 << 96) - 1;
    uint256 private constant M128 = (1 << 128) - 1;
    uint256 private constant TRADE = 1 << 255;
    uint256 private constant EXTRA = 1 << 254;
    uint256 private constant HALF_N =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    /// Bounds of the grace period after a delivery window (s): the oracle's time to confirm
    /// before the buyer may reclaim. Every order and trade keeps the grace in force when it
    /// was posted, so setGrace never changes the terms of an open order or trade.
    /// Delay between proposing a role change and its taking effect, for members to see it
    /// (RoleProposed) and stop trading if they do not trust the new holder.
    uint256 public constant ROLE_DELAY = 2 days;
    uint256 public constant MIN_GRACE = 1;
    uint256 public constant MAX_GRACE = 7 days;
    bytes32 public constant ORDER_TYPEHASH = keccak256(
        "Order(address maker,bool sell,uint32 wh,uint64 price,uint40 start,uint40 end,"
        "uint32 nonce,uint40 expiry)"
    );
    bytes32 private constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    /// EIP-712 domain separator for the chain id of deployment (see DOMAIN_SEPARATOR()).
    bytes32 private immutable _DOMAIN;
    uint256 private immutable _DOMAIN_CHAIN_ID;

    // ------------------------------------------------------------------ storage
    address public admin;
    uint16 public memberCount;
    address public oracle;
    address public coordinator;
    uint256 private _lock;
    Market public market;
    mapping(address => Member) public memberOf;
    mapping(uint256 => Account) public accounts;
    mapping(uint256 => uint256) private _book;
    mapping(uint256 => uint256) private _batchHeader;
    mapping(uint256 => uint256) private _batchTrades;
    /// Last consumed signed-order nonce of each member: eight 31-bit fields per word (key
    /// idx / 8), bit 255 set at registration so batches never pay for a fresh slot.
    mapping(uint256 => uint256) private _nonces;
    /// Trades the oracle put in dispute (book and batch trade ids). Set by openDispute,
    /// cleared by resolveDispute; a trade the oracle confirms instead keeps its flag, which
    /// is never read again (trade ids are never reused): clearing it would cost every
    /// undisputed confirmation a storage read.
    mapping(uint256 => bool) private _disputed;
    /// Pending role changes by role (0 admin, 1 oracle, 2 coordinator).
    mapping(uint256 => Proposal) public pendingRole;

    constructor(address oracle_, address coordinator_, uint32 graceSeconds_) {
        if (oracle_ == address(0) || coordinator_ == address(0)) revert ZeroAddress();
        admin = msg.sender;
        oracle = oracle_;
        coordinator = coordinator_;
        if (graceSeconds_ < MIN_GRACE || graceSeconds_ > MAX_GRACE) revert BadGrace(graceSeconds_);
        _lock = 1;
        // Thesis default: bids 10:30-13:00 and 14:00-16:30, deliveries 13:00-14:00 and
        // 16:30-17:30, closed otherwise; UTC until the admin sets the community's offset.
        market = Market(0, 0, 0, 1, 0, 15, 630, 780, 840, 840, 990, 1050, graceSeconds_);
        _DOMAIN_CHAIN_ID = block.chainid;
        _DOMAIN = _domainSeparator();
        emit RoleSet(0, msg.sender);
        emit RoleSet(1, oracle_);
        emit RoleSet(2, coordinator_);
    }

    // ------------------------------------------------------------------ admin
    modifier onlyAdmin() {
        if (msg.sender != admin) revert WrongRole(msg.sender);
        _;
    }

    /// Register a house; returns its member index (1-based).
    function addMember(address account) external onlyAdmin returns (uint256 idx) {
        if (account == address(0)) revert ZeroAddress();
        Member memory m = memberOf[account];
        if (m.active) revert AlreadyMember(account);
        idx = m.idx;
        if (idx == 0) {
            idx = uint256(memberCount) + 1;
            if (idx > M16) revert TooManyMembers();
            memberCount = uint16(idx);
            accounts[idx].addr = account;
            _nonces[idx >> 3] |= 1 << 255;
        }
        memberOf[account] = Member(uint16(idx), true);
        emit MemberAdded(account, idx);
    }

    /// Stop a house from trading; it keeps its open trades and can still withdraw.
    function removeMember(address account) external onlyAdmin {
        Member memory m = memberOf[account];
        if (!m.active) revert NotMember(account);
        memberOf[account].active = false;
        emit MemberRemoved(account, m.idx);
    }

    /// Propose `account` for `role` (0 admin, 1 oracle, 2 coordinator); it can take effect
    /// ROLE_DELAY after now (a new proposal for the role replaces the pending one).
    function proposeRole(uint256 role, address account) external onlyAdmin {
        if (role > 2) revert BadRole(role);
        if (account == address(0)) revert ZeroAddress();
        uint256 eta = block.timestamp + ROLE_DELAY;
        pendingRole[role] = Proposal(account, uint40(eta));
        emit RoleProposed(role, account, eta);
    }

    /// Withdraw the pending proposal for `role`.
    function cancelRole(uint256 role) external onlyAdmin {
        address account = pendingRole[role].account;
        if (account == address(0)) revert NoProposal(role);
        delete pendingRole[role];
        emit RoleProposalCancelled(role, account);
    }

    /// Put the pending proposal for `role` into effect, not before its eta. The oracle and
    /// the coordinator are set by the admin; the admin role is accepted by the proposed
    /// account itself (two-step transfer: a mistyped address never becomes admin).
    function executeRole(uint256 role) external {
        Proposal memory p = pendingRole[role];
        if (p.account == address(0)) revert NoProposal(role);
        if (msg.sender != (role == 0 ? p.account : admin)) revert WrongRole(msg.sender);
        if (block.timestamp < p.eta) revert TooEarly(block.timestamp, p.eta);
        delete pendingRole[role];
        if (role == 0) admin = p.account;
        else if (role == 1) oracle = p.account;
        else coordinator = p.account;
        emit RoleSet(role, p.account);
    }

    /// Grace (s) for orders posted and batches settled from now on; open ones keep theirs.
    function setGrace(uint32 seconds_) external onlyAdmin {
        if (seconds_ < MIN_GRACE || seconds_ > MAX_GRACE) revert BadGrace(seconds_);
        market.graceSeconds = seconds_;
        emit GraceSet(seconds_);
    }

    /// Trading schedule. mode 0: always open (any future window); mode 1: windows
    /// [bid1, del1) bidding for delivery [del1, end1), same for session 2, in minutes of the
    /// local day; mode 2: continuous slots of `slotMinutes`, bidding any time before a slot.
    function setSchedule(uint8 mode, int16 tzMinutes, uint8 slotMinutes, uint16[6] calldata w)
        external
        onlyAdmin
    {
        if (mode > 2 || tzMinutes > 840 || tzMinutes < -720) revert BadSchedule();
        if (mode == 2 && (slotMinutes == 0 || 1440 % uint256(slotMinutes) != 0)) {
            revert BadSchedule();
        }
        if (
            mode == 1
                && !(w[0] < w[1] && w[1] < w[2] && w[2] <= 1440 && w[3] < w[4] && w[4] < w[5]
                        && w[5] <= 1440)
        ) revert BadSchedule();
        Market storage mk = market;
        mk.mode = mode;
        mk.tzMinutes = tzMinutes;
        mk.slotMinutes = slotMinutes;
        mk.bid1 = w[0];
        mk.del1 = w[1];
        mk.end1 = w[2];
        mk.bid2 = w[3];
        mk.del2 = w[4];
        mk.end2 = w[5];
        emit ScheduleSet(mode, tzMinutes, slotMinutes, w);
    }

    // ------------------------------------------------------------------ members' money
    /// Add to the caller's credit (used as escrow by batch settlement).
    function deposit() external payable {
        Member memory m = memberOf[msg.sender];
        if (!m.active) revert NotMember(msg.sender);
        if (msg.value == 0) revert ZeroAmount();
        _credit(m.idx, msg.value);
        emit Deposited(msg.sender, msg.value);
    }

    /// Pay out the caller's whole credit (pull payment).
    function withdraw() external {
        if (_lock != 1) revert Reentrancy();
        _lock = 2;
        uint256 idx = memberOf[msg.sender].idx;
        if (idx == 0) revert NotMember(msg.sender);
        Account storage a = accounts[idx];
        uint256 amount = a.credit;
        if (amount == 0) revert NothingToWithdraw();
        a.credit = 0;
        emit Withdrawn(msg.sender, amount);
        // Checks-effects-interactions: the credit is zeroed before the call, and _lock
        // refuses re-entry; writing _lock back after the call is the guard itself.
        // slither-disable-next-line arbitrary-send-eth,low-level-calls
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
        // slither-disable-next-line reentrancy-eth
        _lock = 1;
    }

    /// Revoke every signed order of the caller with a nonce below `below` (nonces at or
    /// above it stay valid); batches then refuse them with NonceUsed.
    function invalidateNonce(uint256 below) external {
        uint256 idx = memberOf[msg.sender].idx;
        if (idx == 0) revert NotMember(msg.sender);
        if (below == 0 || below - 1 > M31) revert AmountOverflow();
        uint256 key = idx >> 3;
        uint256 shift = (idx & 7) * 31;
        uint256 word = _nonces[key];
        uint256 last = (word >> shift) & M31;
        if (below - 1 <= last) revert StaleNonce(last);
        _nonces[key] = (word & ~(M31 << shift)) | (below - 1) << shift;
        emit NonceInvalidated(msg.sender, below);
    }

    // ------------------------------------------------------------------ orders
    /// Offer `wh` Wh at `price` wei/kWh for delivery in [start, end).
    function postOffer(uint256 wh, uint256 price, uint256 start, uint256 end)
        external
        returns (uint256 id)
    {
        Member memory m = memberOf[msg.sender];
        if (!m.active) revert NotMember(msg.sender);
        uint256 word = _newOrder(m.idx, wh, price, start, end);
        uint256 n = uint256(market.nextOffer) + 1;
        if (n > M32) revert AmountOverflow();
        market.nextOffer = uint32(n);
        id = n << 2 | 1;
        _book[id] = word;
        emit OfferPosted(id, word);
    }

    /// Ask for `wh` Wh at `price` wei/kWh in [start, end); msg.value must be the exact cost,
    /// which stays in escrow until the request is filled and the delivery settled.
    function postRequest(uint256 wh, uint256 price, uint256 start, uint256 end)
        external
        payable
        returns (uint256 id)
    {
        Member memory m = memberOf[msg.sender];
        if (!m.active) revert NotMember(msg.sender);
        uint256 word = _newOrder(m.idx, wh, price, start, end);
        uint256 pay = wh * price / 1000;
        if (msg.value != pay) revert WrongPayment(pay, msg.value);
        uint256 n = uint256(market.nextRequest) + 1;
        if (n > M32) revert AmountOverflow();
        market.nextRequest = uint32(n);
        id = n << 2 | 2;
        _book[id] = word;
        emit RequestPosted(id, word);
    }

    /// Buy `wh` Wh of an offer; msg.value must be the exact cost (escrowed).
    function buy(uint256 offerId, uint256 wh) external payable returns (uint256 tradeId) {
        if (offerId & 3 != 1) revert UnknownId(offerId);
        Member memory m = memberOf[msg.sender];
        if (!m.active) revert NotMember(msg.sender);
        uint256 o = _openOrder(offerId, wh);
        uint256 price = (o >> 48) & M64;
        uint256 pay = wh * price / 1000;
        if (msg.value != pay) revert WrongPayment(pay, msg.value);
        uint256 seller = o & M16;
        if (seller == m.idx) revert SelfTrade();
        tradeId = _trade(offerId, o, wh, seller | uint256(m.idx) << 16, 0);
    }

    /// Sell `wh` Wh into a purchase request, against the buyer's escrow.
    function fill(uint256 requestId, uint256 wh) external returns (uint256 tradeId) {
        if (requestId & 3 != 2) revert UnknownId(requestId);
        Member memory m = memberOf[msg.sender];
        if (!m.active) revert NotMember(msg.sender);
        uint256 o = _openOrder(requestId, wh);
        uint256 buyer = o & M16;
        if (buyer == m.idx) revert SelfTrade();
        uint256 price = (o >> 48) & M64;
        uint256 rem = (o >> 16) & M32;
        // escrow share = cost(rem) - cost(rem - wh): shares of all fills add up exactly.
        uint256 extra = rem * price / 1000 - (rem - wh) * price / 1000 - wh * price / 1000;
        tradeId = _trade(requestId, o, wh, uint256(m.idx) | buyer << 16, extra);
    }

    /// Withdraw the unfilled part of an own order (or, as admin, of a removed member's:
    /// removing a member does not loop over its orders; an active member's are its own);
    /// a request's remaining escrow is credited to its owner.
    function cancel(uint256 orderId) external {
        uint256 tag = orderId & 3;
        if (tag != 1 && tag != 2) revert UnknownId(orderId);
        uint256 o = _book[orderId];
        if (o == 0 || o & TRADE != 0) revert UnknownId(orderId);
        uint256 rem = (o >> 16) & M32;
        if (rem == 0) revert OrderClosed(orderId);
        uint256 owner = o & M16;
        if (memberOf[msg.sender].idx != owner || owner == 0) {
            if (msg.sender != admin || memberOf[accounts[owner].addr].active) {
                revert NotOwner(orderId, msg.sender);
            }
        }
        _book[orderId] = o & ~(M32 << 16);
        uint256 refund = 0;
        if (tag == 2) {
            refund = rem * ((o >> 48) & M64) / 1000;
            _credit(owner, refund);
        }
        emit Cancelled(orderId, rem, refund);
    }

    // ------------------------------------------------------------------ settlement
    /// Oracle: `deliveredWh` of the trade were metered; pay the seller for them at the trade
    /// price and refund the rest of the escrow to the buyer.
    function confirmDelivery(uint256 tradeId, uint256 deliveredWh) external {
        if (msg.sender != oracle) revert WrongRole(msg.sender);
        (uint256 t, uint256 start, uint256 end, uint256 grace) = _openTrade(tradeId);
        uint256 wh = (t >> 32) & M32;
        if (deliveredWh > wh) revert DeliveredTooMuch(deliveredWh, wh);
        uint256 closes = end + grace;
        // a disputed trade cannot be reclaimed, so the oracle may still settle it late
        // (e.g. from a community meter); the flag is read only in that rare case
        if (block.timestamp < start || (block.timestamp > closes && !_disputed[tradeId])) {
            revert OutsideWindow(block.timestamp, start, closes);
        }
        _settle(tradeId, t, deliveredWh);
    }

    /// Oracle: the seller's and the buyer's meters disagree beyond the oracle's tolerance.
    /// The trade must be open and not yet reclaimable; from now on the buyer cannot reclaim
    /// it, and only the admin (resolveDispute) or the oracle (confirmDelivery) settles it.
    function openDispute(uint256 tradeId, uint256 sellerWh, uint256 buyerWh) external {
        if (msg.sender != oracle) revert WrongRole(msg.sender);
        (,, uint256 end, uint256 grace) = _openTrade(tradeId);
        uint256 closes = end + grace;
        if (block.timestamp > closes) revert OutsideWindow(block.timestamp, 0, closes);
        if (_disputed[tradeId]) revert Disputed(tradeId);
        _disputed[tradeId] = true;
        emit DisputeOpened(tradeId, sellerWh, buyerWh);
    }

    /// Admin: settle a disputed trade for `deliveredWh` exactly like confirmDelivery (seller
    /// paid for deliveredWh <= contracted Wh, buyer refunded the rest), at any time.
    function resolveDispute(uint256 tradeId, uint256 deliveredWh) external onlyAdmin {
        (uint256 t,,,) = _openTrade(tradeId);
        if (!_disputed[tradeId]) revert NotDisputed(tradeId);
        uint256 wh = (t >> 32) & M32;
        if (deliveredWh > wh) revert DeliveredTooMuch(deliveredWh, wh);
        delete _disputed[tradeId];
        _settle(tradeId, t, deliveredWh);
        emit DisputeResolved(tradeId, deliveredWh);
    }

    /// Close trade `tradeId` (word `t`): pay the seller for `deliveredWh`, refund the buyer.
    function _settle(uint256 tradeId, uint256 t, uint256 deliveredWh) private {
        uint256 wh = (t >> 32) & M32;
        _closeTrade(tradeId);
        uint256 price = (t >> 64) & M64;
        uint256 paid = deliveredWh * price / 1000;
        uint256 refund = wh * price / 1000 + (t & EXTRA == 0 ? 0 : 1) - paid;
        _credit(t & M16, paid);
        _credit((t >> 16) & M16, refund);
        emit DeliveryConfirmed(tradeId, deliveredWh | paid << 32 | refund << 128);
    }

    /// Buyer: take back the escrow of a trade not confirmed by the end of its window + grace.
    function reclaim(uint256 tradeId) external {
        (uint256 t,, uint256 end, uint256 grace) = _openTrade(tradeId);
        uint256 buyer = (t >> 16) & M16;
        if (memberOf[msg.sender].idx != buyer) revert NotOwner(tradeId, msg.sender);
        uint256 opens = end + grace + 1;
        if (block.timestamp < opens) revert OutsideWindow(block.timestamp, opens, type(uint40).max);
        if (_disputed[tradeId]) revert Disputed(tradeId);
        _closeTrade(tradeId);
        uint256 refund = ((t >> 32) & M32) * ((t >> 64) & M64) / 1000 + (t & EXTRA == 0 ? 0 : 1);
        _credit(buyer, refund);
        emit Reclaimed(tradeId, refund);
    }

    // ------------------------------------------------------------------ batch settlement
    /// Coordinator: record matches between orders the members signed off-chain (EIP-712).
    /// Every order must be for the same delivery window, unexpired, with a nonce above the
    /// maker's last consumed one (an order is consumed by the batch that includes it, its
    /// unmatched rest lapses). Buyers' escrow is taken from their deposited credit.
    function settleBatch(SignedOrder[] calldata orders, Match[] calldata matches)
        external
        returns (uint256 batchId)
    {
        if (msg.sender != coordinator) revert WrongRole(msg.sender);
        uint256 no = orders.length;
        uint256 nm = matches.length;
        if (nm == 0 || no == 0) revert EmptyBatch();
        if (nm > M16 || no > M16) revert AmountOverflow();
        uint256 start = orders[0].start;
        uint256 end = orders[0].end;
        _checkWindow(market, start, end);
        bytes32 domain = DOMAIN_SEPARATOR();
        // ord[i] = member idx | isSell<<16 | limit price<<17 | Wh left<<81
        uint256[] memory ord = new uint256[](no);
        uint256 nkey = type(uint256).max;
        uint256 nword = 0;
        for (uint256 i = 0; i < no; ++i) {
            SignedOrder calldata o = orders[i];
            uint256 idx = _verify(o, i, start, end, domain);
            // nonces: one cached storage word per 8 members, written back when it changes
            uint256 key = idx >> 3;
            if (key != nkey) {
                if (nkey != type(uint256).max) _nonces[nkey] = nword;
                nkey = key;
                nword = _nonces[key];
            }
            uint256 shift = (idx & 7) * 31;
            if (o.nonce <= (nword >> shift) & M31) revert NonceUsed(i);
            if (o.nonce > M31) revert AmountOverflow();
            nword = (nword & ~(M31 << shift)) | uint256(o.nonce) << shift;
            ord[i] = idx | (o.sell ? 1 << 16 : 0) | uint256(o.price) << 17 | uint256(o.wh) << 81;
        }
        _nonces[nkey] = nword;
        uint256[] memory debit = new uint256[](no);
        uint256[] memory words = new uint256[]((nm + 1) / 2);
        for (uint256 j = 0; j < nm; ++j) {
            Match calldata x = matches[j];
            uint256 s = x.sellOrder;
            uint256 b = x.buyOrder;
            if (s >= no || b >= no) revert WrongSide(j);
            uint256 os = ord[s];
            uint256 ob = ord[b];
            if ((os >> 16) & 1 == 0 || (ob >> 16) & 1 == 1) revert WrongSide(j);
            uint256 wh = x.wh;
            uint256 price = x.price;
            if (wh == 0) revert ZeroAmount();
            if (wh > os >> 81 || wh > ob >> 81) revert Overfill(j);
            if (price < (os >> 17) & M64 || price > (ob >> 17) & M64) revert PriceOutOfLimit(j);
            if (os & M16 == ob & M16) revert SelfTrade();
            ord[s] = os - (wh << 81);
            ord[b] = ob - (wh << 81);
            debit[b] += wh * price / 1000;
            words[j >> 1] |= (os & M16 | (ob & M16) << 16 | wh << 32 | price << 64) << ((j & 1) * 128);
        }
        for (uint256 i = 0; i < no; ++i) {
            uint256 d = debit[i];
            if (d != 0) {
                Account storage a = accounts[ord[i] & M16];
                uint256 c = a.credit;
                if (c < d) revert InsufficientCredit(c, d);
                a.credit = uint96(c - d);
            }
        }
        Market storage mk = market;
        batchId = uint256(mk.nextBatch) + 1;
        if (batchId > M32) revert AmountOverflow();
        mk.nextBatch = uint32(batchId);
        for (uint256 k = 0; k < words.length; ++k) {
            _batchTrades[batchId << 16 | k] = words[k];
        }
        uint256 header = start | end << 40 | nm << 80 | uint256(mk.graceSeconds) << 96;
        _batchHeader[batchId] = header;
        emit BatchSettled(batchId, header, words);
    }

    // ------------------------------------------------------------------ views
    /// Exact escrow of `wh` Wh at `price` wei/kWh, in wei.
    function cost(uint256 wh, uint256 price) external pure returns (uint256) {
        return wh * price / 1000;
    }

    /// EIP-712 domain separator of signed orders: name "gridpeer", version "1", the
    /// current chain id and this contract; recomputed if the chain id changed (a fork).
    function DOMAIN_SEPARATOR() public view returns (bytes32) {
        return block.chainid == _DOMAIN_CHAIN_ID ? _DOMAIN : _domainSeparator();
    }

    /// Grace (s) that orders posted and batches settled now get.
    function graceSeconds() external view returns (uint256) {
        return market.graceSeconds;
    }

    /// Last signed-order nonce a batch consumed for `account` (0 = none).
    function nonceOf(address account) external view returns (uint256) {
        uint256 idx = memberOf[account].idx;
        return (_nonces[idx >> 3] >> ((idx & 7) * 31)) & M31;
    }

    /// Raw packed word of an order or book trade (0 if none).
    function bookWord(uint256 id) external view returns (uint256) {
        return _book[id];
    }

    /// An open trade (wh = 0 if the id is unknown or already settled).
    function tradeOf(uint256 tradeId)
        external
        view
        returns (
            uint256 seller,
            uint256 buyer,
            uint256 wh,
            uint256 price,
            uint256 start,
            uint256 end,
            uint256 escrow,
            bool disputed,
            uint256 grace
        )
    {
        uint256 t;
        if (tradeId & 3 == 0) {
            uint256 h = _batchHeader[tradeId >> 18];
            uint256 j = (tradeId >> 2) & M16;
            if (h == 0 || j >= (h >> 80) & M16) return (0, 0, 0, 0, 0, 0, 0, false, 0);
            t = _batchRecord(tradeId);
            start = h & M40;
            end = (h >> 40) & M40;
            grace = (h >> 96) & M32;
        } else {
            t = _book[tradeId];
            if (t & TRADE == 0) return (0, 0, 0, 0, 0, 0, 0, false, 0);
            start = (t >> 128) & M40;
            end = (t >> 168) & M40;
            grace = (t >> 224) & M20;
        }
        seller = t & M16;
        buyer = (t >> 16) & M16;
        wh = (t >> 32) & M32;
        price = (t >> 64) & M64;
        escrow = wh * price / 1000 + (t & EXTRA == 0 ? 0 : 1);
        disputed = _disputed[tradeId];
        if (wh == 0) return (0, 0, 0, 0, 0, 0, 0, false, 0);
    }

    // ------------------------------------------------------------------ internals
    function _newOrder(uint256 idx, uint256 wh, uint256 price, uint256 start, uint256 end)
        private
        view
        returns (uint256)
    {
        if (wh == 0 || price == 0) revert ZeroAmount();
        if (wh > M32 || price > M64) revert AmountOverflow();
        Market memory mk = market;
        uint256 bidOpen = _checkWindow(mk, start, end);
        uint256 bidLead = bidOpen == 0 ? 0 : start - bidOpen; // < 1 day: fits 20 bits
        return idx | wh << 16 | price << 48 | start << 112 | end << 152 | bidLead << 192
            | uint256(mk.graceSeconds) << 212;
    }

    /// Validate a delivery window against the schedule and the clock; returns when bidding
    /// for it opened (0 = any time before `start`).
    function _checkWindow(Market memory mk, uint256 start, uint256 end)
        private
        view
        returns (uint256 bidOpen)
    {
        if (start >= end || end > M40 || start < 1 days) revert BadWindow(start, end);
        if (mk.mode == 2) {
            uint256 slot = uint256(mk.slotMinutes) * 60;
            uint256 local = uint256(int256(start) + int256(mk.tzMinutes) * 60);
            if (local % slot != 0 || end - start != slot) revert BadWindow(start, end);
        } else if (mk.mode == 1) {
            uint256 sod = uint256(int256(start) + int256(mk.tzMinutes) * 60) % 1 days;
            uint256 len = end - start;
            uint256 bid = 0;
            if (sod == uint256(mk.del1) * 60 && len == uint256(mk.end1 - mk.del1) * 60) {
                bid = mk.bid1;
            } else if (sod == uint256(mk.del2) * 60 && len == uint256(mk.end2 - mk.del2) * 60) {
                bid = mk.bid2;
            } else {
                revert BadWindow(start, end);
            }
            bidOpen = start - sod + bid * 60;
        }
        if (block.timestamp < bidOpen || block.timestamp >= start) {
            revert OutsideWindow(block.timestamp, bidOpen, start);
        }
    }

    function _openOrder(uint256 id, uint256 wh) private view returns (uint256 o) {
        o = _book[id];
        if (o == 0 || o & TRADE != 0) revert UnknownId(id);
        uint256 rem = (o >> 16) & M32;
        if (rem == 0) revert OrderClosed(id);
        if (wh == 0) revert ZeroAmount();
        if (wh > rem) revert ExceedsRemaining(wh, rem);
        uint256 closes = (o >> 112) & M40;
        uint256 bidLead = (o >> 192) & M20;
        uint256 opens = bidLead == 0 ? 0 : closes - bidLead;
        if (block.timestamp < opens || block.timestamp >= closes) {
            revert OutsideWindow(block.timestamp, opens, closes);
        }
    }

    /// Record a trade of `wh` Wh from order `id` (word `o`); `parties` = seller | buyer<<16.
    function _trade(uint256 id, uint256 o, uint256 wh, uint256 parties, uint256 extra)
        private
        returns (uint256 tradeId)
    {
        uint256 rem = (o >> 16) & M32;
        uint256 fills = (o >> 232) & M16;
        uint256 t = TRADE | parties | wh << 32 | ((o >> 48) & M64) << 64
            | ((o >> 112) & M40) << 128 | ((o >> 152) & M40) << 168 | ((o >> 212) & M20) << 224;
        if (extra != 0) t |= EXTRA;
        if (wh == rem) {
            tradeId = id;
            t |= fills << 208;
        } else {
            if (++fills > M16) revert AmountOverflow();
            _book[id] = (o & ~(M32 << 16 | M16 << 232)) | (rem - wh) << 16 | fills << 232;
            tradeId = ((id >> 2) << 1 | (id & 2) >> 1) << 18 | fills << 2 | 3;
        }
        _book[tradeId] = t;
        emit TradeCreated(tradeId, id, t);
    }

    /// The open trade `tradeId` as a book-style word, with its window and grace (s);
    /// reverts if none.
    function _openTrade(uint256 tradeId)
        private
        view
        returns (uint256 t, uint256 s, uint256 e, uint256 grace)
    {
        if (tradeId & 3 == 0) {
            uint256 h = _batchHeader[tradeId >> 18];
            uint256 j = (tradeId >> 2) & M16;
            if (h == 0 || j >= (h >> 80) & M16) revert UnknownId(tradeId);
            t = _batchRecord(tradeId);
            if (t == 0) revert AlreadySettled(tradeId);
            return (t, h & M40, (h >> 40) & M40, (h >> 96) & M32);
        }
        t = _book[tradeId];
        if (t & TRADE == 0) _missingTrade(tradeId, t);
        return (t, (t >> 128) & M40, (t >> 168) & M40, (t >> 224) & M20);
    }

    function _batchRecord(uint256 tradeId) private view returns (uint256) {
        uint256 j = (tradeId >> 2) & M16;
        return (_batchTrades[(tradeId >> 18) << 16 | j >> 1] >> ((j & 1) * 128)) & M128;
    }

    function _closeTrade(uint256 tradeId) private {
        if (tradeId & 3 == 0) {
            uint256 j = (tradeId >> 2) & M16;
            uint256 key = (tradeId >> 18) << 16 | j >> 1;
            _batchTrades[key] &= ~(M128 << ((j & 1) * 128));
        } else {
            delete _book[tradeId];
        }
    }

    /// Revert with AlreadySettled for a trade id that was issued and is gone, else UnknownId.
    function _missingTrade(uint256 tradeId, uint256 t) private view {
        if (t != 0) revert UnknownId(tradeId); // an order, not a trade
        uint256 tag = tradeId & 3;
        uint256 n;
        uint256 isRequest;
        uint256 fillNo = 0;
        if (tag == 3) {
            fillNo = (tradeId >> 2) & M16;
            n = tradeId >> 19;
            isRequest = (tradeId >> 18) & 1;
        } else {
            n = tradeId >> 2;
            isRequest = tag == 2 ? 1 : 0;
        }
        uint256 issued = isRequest == 1 ? market.nextRequest : market.nextOffer;
        if (n == 0 || n > issued) revert UnknownId(tradeId);
        if (tag == 3) {
            uint256 p = _book[n << 2 | (isRequest + 1)];
            if (p != 0) {
                uint256 fills = p & TRADE == 0 ? (p >> 232) & M16 : (p >> 208) & M16;
                if (fillNo == 0 || fillNo > fills) revert UnknownId(tradeId);
            }
        }
        revert AlreadySettled(tradeId);
    }

    function _verify(
        SignedOrder calldata o,
        uint256 i,
        uint256 start,
        uint256 end,
        bytes32 domain
    )
        private
        view
        returns (uint256 idx)
    {
        if (o.start != start || o.end != end) revert WindowMismatch(i);
        if (block.timestamp > o.expiry) revert OrderExpired(i);
        if (o.wh == 0 || o.price == 0) revert ZeroAmount();
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                domain,
                keccak256(
                    abi.encode(
                        ORDER_TYPEHASH,
                        o.maker,
                        o.sell,
                        o.wh,
                        o.price,
                        o.start,
                        o.end,
                        o.nonce,
                        o.expiry
                    )
                )
            )
        );
        if (uint256(o.s) > HALF_N) revert BadSignature(i);
        address signer = ecrecover(digest, o.v, o.r, o.s);
        if (signer == address(0) || signer != o.maker) revert BadSignature(i);
        Member memory m = memberOf[signer];
        if (!m.active) revert NotMember(signer);
        return m.idx;
    }

    function _domainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256("gridpeer"), keccak256("1"), block.chainid, address(this)
            )
        );
    }

    function _credit(uint256 idx, uint256 amount) private {
        if (amount == 0) return;
        Account storage a = accounts[idx];
        uint256 c = uint256(a.credit) + amount;
        if (c > M96) revert AmountOverflow();
        a.credit = uint96(c);
    }
}
