// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title EnergyMarket: peer-to-peer solar energy trading with escrow and metered settlement.
/// @notice Units: energy in Wh (uint32), prices in wei per kWh (uint64), times in UTC unix
/// seconds (uint40), money in wei. The cost of `wh` Wh at `price` wei/kWh is
/// floor(wh * price / 1000) wei.
/// @dev Storage is packed: one 32-byte word per order or trade, four batch trades per word
/// (two when the batch's trades have different prices), members addressed by a 16-bit
/// index, credits next to the member's address. History is in events; the Python client
/// (gridpeer.chain) decodes the packed words. Every packed word is read and written only
/// through the named helpers of the "storage layout" section at the end, which is the one
/// place that states each word's fields, bit offsets and widths.
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
    error LengthMismatch(uint256 ids, uint256 amounts);
    error BadPreference(uint256 matchIndex);

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
    /// confirmBatch left trade `tradeId` open or untouched; reason: 1 unknown or already
    /// settled, 2 delivered more than contracted, 3 outside its settlement time.
    event ConfirmSkipped(uint256 indexed tradeId, uint256 reason);
    /// The oracle's two meters disagree: seller metered `sellerWh`, buyer `buyerWh`.
    event DisputeOpened(uint256 indexed tradeId, uint256 sellerWh, uint256 buyerWh);
    event DisputeResolved(uint256 indexed tradeId, uint256 deliveredWh);
    /// header: start | end<<40 | count<<80 | grace<<96 | price<<128. price != 0 (one price for
    /// every trade): four records (seller | buyer<<16 | wh<<32) per word, record i in word i/4
    /// at bit (i%4)*64; price 0: two records (seller | buyer<<16 | wh<<32 | price<<64) per
    /// word, record i in word i/2 at bit (i%2)*128.
    event BatchSettled(uint256 indexed batchId, uint256 header, uint256[] trades);
    /// Emitted after BatchSettled when a match of the batch honoured a buyer's trading
    /// preference: the preference of trade i (0 none, 1 partner, 2 local, 3 green) in bits
    /// (i % 128) * 2 of word i / 128. Partner is checked on chain (the seller is the buyer's
    /// signed partner); local and green are the coordinator's claim, for members to check
    /// against the community's zones and green houses.
    event PreferencesHonoured(uint256 indexed batchId, uint256[] honoured);
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

    /// An order signed off-chain (EIP-712 `Order`) by its maker, settled by the coordinator,
    /// in four calldata words. Its window (start, end) is the batch's: an order signed for
    /// another window fails the signature check. Fields: see "signed order words" in the
    /// storage layout section (_soMaker, _soWh, _soNonce, _soSells, _soV, _soPrice,
    /// _soExpiry, _soPremium, _soPrefs, _soPartner).
    struct SignedOrder {
        uint256 head; // maker 0/160 | wh 160/32 | nonce 192/32 | sell 224/1 | v - 27 225/1
        // price wei/kWh 0/64 | expiry 64/40 | premium wei/kWh 104/64 | prefs 168/3
        // | partner idx 171/16
        uint256 terms;
        bytes32 r;
        bytes32 s;
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
    uint256 private constant TRADE = 1 << 255; // trade word flag (an order word has it clear)
    uint256 private constant EXTRA = 1 << 254; // trade word: escrow = cost + 1 wei
    uint256 private constant NONCE_PRIMED = 1 << 255; // nonce word: written at registration
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
        "uint32 nonce,uint40 expiry,uint8 prefs,uint64 premium,uint16 partner)"
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
            _nonces[_nonceKey(idx)] |= NONCE_PRIMED;
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
        uint256 key = _nonceKey(idx);
        uint256 word = _nonces[key];
        uint256 last = _nonceAt(word, idx);
        if (below - 1 <= last) revert StaleNonce(last);
        _nonces[key] = _withNonce(word, idx, below - 1);
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
        id = _offerId(n);
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
        id = _requestId(n);
        _book[id] = word;
        emit RequestPosted(id, word);
    }

    /// Buy `wh` Wh of an offer; msg.value must be the exact cost (escrowed).
    function buy(uint256 offerId, uint256 wh) external payable returns (uint256 tradeId) {
        if (offerId & 3 != 1) revert UnknownId(offerId);
        Member memory m = memberOf[msg.sender];
        if (!m.active) revert NotMember(msg.sender);
        uint256 o = _openOrder(offerId, wh);
        uint256 pay = wh * _orderPrice(o) / 1000;
        if (msg.value != pay) revert WrongPayment(pay, msg.value);
        uint256 seller = _orderOwner(o);
        if (seller == m.idx) revert SelfTrade();
        tradeId = _trade(offerId, o, wh, seller, m.idx, 0);
    }

    /// Sell `wh` Wh into a purchase request, against the buyer's escrow.
    function fill(uint256 requestId, uint256 wh) external returns (uint256 tradeId) {
        if (requestId & 3 != 2) revert UnknownId(requestId);
        Member memory m = memberOf[msg.sender];
        if (!m.active) revert NotMember(msg.sender);
        uint256 o = _openOrder(requestId, wh);
        uint256 buyer = _orderOwner(o);
        if (buyer == m.idx) revert SelfTrade();
        uint256 price = _orderPrice(o);
        uint256 rem = _orderRemaining(o);
        // escrow share = cost(rem) - cost(rem - wh): shares of all fills add up exactly.
        uint256 extra = rem * price / 1000 - (rem - wh) * price / 1000 - wh * price / 1000;
        tradeId = _trade(requestId, o, wh, m.idx, buyer, extra);
    }

    /// Withdraw the unfilled part of an own order (or, as admin, of a removed member's:
    /// removing a member does not loop over its orders; an active member's are its own);
    /// a request's remaining escrow is credited to its owner.
    function cancel(uint256 orderId) external {
        uint256 tag = orderId & 3;
        if (tag != 1 && tag != 2) revert UnknownId(orderId);
        uint256 o = _book[orderId];
        if (o == 0 || _isTrade(o)) revert UnknownId(orderId);
        uint256 rem = _orderRemaining(o);
        if (rem == 0) revert OrderClosed(orderId);
        uint256 owner = _orderOwner(o);
        if (memberOf[msg.sender].idx != owner || owner == 0) {
            if (msg.sender != admin || memberOf[accounts[owner].addr].active) {
                revert NotOwner(orderId, msg.sender);
            }
        }
        _book[orderId] = _withRemaining(o, 0, _orderFills(o));
        uint256 refund = 0;
        if (tag == 2) {
            refund = rem * _orderPrice(o) / 1000;
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
        uint256 wh = _tradeWh(t);
        if (deliveredWh > wh) revert DeliveredTooMuch(deliveredWh, wh);
        uint256 closes = end + grace;
        // a disputed trade cannot be reclaimed, so the oracle may still settle it late
        // (e.g. from a community meter); the flag is read only in that rare case
        if (block.timestamp < start || (block.timestamp > closes && !_disputed[tradeId])) {
            revert OutsideWindow(block.timestamp, start, closes);
        }
        _settle(tradeId, t, deliveredWh);
    }

    /// Oracle: confirmDelivery for many trades in one transaction, `deliveredWh[i]` Wh for
    /// `tradeIds[i]`. Each trade is checked by confirmDelivery's rules; one that fails them
    /// (unknown or already settled, too many Wh, outside its settlement time) is skipped
    /// with ConfirmSkipped(tradeId, reason) instead of reverting the batch, so the other
    /// trades settle and the oracle learns from the receipt which ones did not. A trade
    /// listed twice settles once (the second is skipped as settled). Reverts only for the
    /// caller's role, unequal array lengths or an empty batch.
    function confirmBatch(uint256[] calldata tradeIds, uint256[] calldata deliveredWh)
        external
    {
        if (msg.sender != oracle) revert WrongRole(msg.sender);
        uint256 n = tradeIds.length;
        if (n != deliveredWh.length) revert LengthMismatch(n, deliveredWh.length);
        if (n == 0) revert EmptyBatch();
        for (uint256 i = 0; i < n; ++i) {
            uint256 tradeId = tradeIds[i];
            uint256 delivered = deliveredWh[i];
            (bool open, uint256 t, uint256 start, uint256 end, uint256 grace) =
                _peekTrade(tradeId);
            uint256 reason = 0;
            if (!open) {
                reason = 1;
            } else if (delivered > _tradeWh(t)) {
                reason = 2;
            } else if (
                block.timestamp < start
                    || (block.timestamp > end + grace && !_disputed[tradeId])
            ) {
                reason = 3;
            }
            if (reason == 0) _settle(tradeId, t, delivered);
            else emit ConfirmSkipped(tradeId, reason);
        }
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
        uint256 wh = _tradeWh(t);
        if (deliveredWh > wh) revert DeliveredTooMuch(deliveredWh, wh);
        delete _disputed[tradeId];
        _settle(tradeId, t, deliveredWh);
        emit DisputeResolved(tradeId, deliveredWh);
    }

    /// Close trade `tradeId` (word `t`): pay the seller for `deliveredWh`, refund the buyer.
    function _settle(uint256 tradeId, uint256 t, uint256 deliveredWh) private {
        _closeTrade(tradeId);
        uint256 paid = deliveredWh * _tradePrice(t) / 1000;
        uint256 refund = _tradeEscrow(t) - paid;
        _credit(_tradeSeller(t), paid);
        _credit(_tradeBuyer(t), refund);
        emit DeliveryConfirmed(tradeId, _packSettlement(deliveredWh, paid, refund));
    }

    /// Buyer: take back the escrow of a trade not confirmed by the end of its window + grace.
    function reclaim(uint256 tradeId) external {
        (uint256 t,, uint256 end, uint256 grace) = _openTrade(tradeId);
        uint256 buyer = _tradeBuyer(t);
        if (memberOf[msg.sender].idx != buyer) revert NotOwner(tradeId, msg.sender);
        uint256 opens = end + grace + 1;
        if (block.timestamp < opens) revert OutsideWindow(block.timestamp, opens, type(uint40).max);
        if (_disputed[tradeId]) revert Disputed(tradeId);
        _closeTrade(tradeId);
        uint256 refund = _tradeEscrow(t);
        _credit(buyer, refund);
        emit Reclaimed(tradeId, refund);
    }

    // ------------------------------------------------------------------ batch settlement
    /// Coordinator: record matches between orders the members signed off-chain (EIP-712)
    /// for delivery in [start, end). Every order must be signed for that window, unexpired,
    /// with a nonce above the maker's last consumed one (an order is consumed by the batch
    /// that includes it, its unmatched rest lapses). Buyers' escrow is taken from their
    /// deposited credit. `matches[j]` is a match word (see the storage layout section):
    /// order indices, Wh and a price between the sell limit and the buy limit. A batch whose
    /// matches all have one price stores it once in its header and four trades per word.
    function settleBatch(
        uint256 start,
        uint256 end,
        SignedOrder[] calldata orders,
        uint256[] calldata matches
    ) external returns (uint256 batchId) {
        if (msg.sender != coordinator) revert WrongRole(msg.sender);
        uint256 no = orders.length;
        uint256 nm = matches.length;
        if (nm == 0 || no == 0) revert EmptyBatch();
        if (nm > M16 || no > M16) revert AmountOverflow();
        _checkWindow(market, start, end);
        bytes32 domain = DOMAIN_SEPARATOR();
        // ord[i]: the order's side word (see _packSide)
        uint256[] memory ord = new uint256[](no);
        uint256 nkey = type(uint256).max;
        uint256 nword = 0;
        for (uint256 i = 0; i < no; ++i) {
            SignedOrder calldata o = orders[i];
            uint256 idx = _verify(o, i, start, end, domain);
            uint256 head = o.head;
            uint256 nonce = _soNonce(head);
            // nonces: one cached storage word per 8 members, written back when it changes
            uint256 key = _nonceKey(idx);
            if (key != nkey) {
                if (nkey != type(uint256).max) _nonces[nkey] = nword;
                nkey = key;
                nword = _nonces[key];
            }
            if (nonce <= _nonceAt(nword, idx)) revert NonceUsed(i);
            if (nonce > M31) revert AmountOverflow();
            nword = _withNonce(nword, idx, nonce);
            ord[i] = _packSide(idx, head, o.terms);
        }
        _nonces[nkey] = nword;
        // one price for every match: kept once in the header (records without price)
        uint256 uniform = _matchPrice(matches[0]);
        for (uint256 j = 1; j < nm; ++j) {
            if (_matchPrice(matches[j]) != uniform) {
                uniform = 0;
                break;
            }
        }
        uint256[] memory debit = new uint256[](no);
        uint256[] memory words = new uint256[](_wordOfRecord(nm - 1, uniform) + 1);
        uint256[] memory honoured = new uint256[]((nm + 127) >> 7);
        bool anyHonoured = false;
        for (uint256 j = 0; j < nm; ++j) {
            uint256 x = matches[j];
            uint256 s = _matchSellOrder(x);
            uint256 b = _matchBuyOrder(x);
            if (s >= no || b >= no) revert WrongSide(j);
            uint256 os = ord[s];
            uint256 ob = ord[b];
            if (!_sideSells(os) || _sideSells(ob)) revert WrongSide(j);
            uint256 wh = _matchWh(x);
            uint256 price = _matchPrice(x);
            if (wh == 0) revert ZeroAmount();
            if (wh > _sideLeft(os) || wh > _sideLeft(ob)) revert Overfill(j);
            uint256 pref = _matchPref(x);
            uint256 cap = _sideLimit(ob);
            if (pref != 0) {
                // the buyer signed this preference (and, for a partner, this seller)
                if ((_sidePrefs(ob) >> (pref - 1)) & 1 == 0) revert BadPreference(j);
                if (pref == 1 && _sidePartner(ob) != _sideMember(os)) revert BadPreference(j);
                cap += _sidePremium(ob);
                honoured[j >> 7] |= pref << ((j & 127) << 1);
                anyHonoured = true;
            }
            if (price < _sideLimit(os) || price > cap) revert PriceOutOfLimit(j);
            if (_sideMember(os) == _sideMember(ob)) revert SelfTrade();
            ord[s] = _sideTake(os, wh);
            ord[b] = _sideTake(ob, wh);
            debit[b] += wh * price / 1000;
            uint256 record = _packRecord(_sideMember(os), _sideMember(ob), wh, price);
            uint256 stored = _storedRecord(record, uniform);
            words[_wordOfRecord(j, uniform)] |= _recordIn(stored, j, uniform);
        }
        for (uint256 i = 0; i < no; ++i) {
            uint256 d = debit[i];
            if (d != 0) {
                Account storage a = accounts[_sideMember(ord[i])];
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
            _batchTrades[_batchWordKey(batchId, k)] = words[k];
        }
        uint256 header = _packHeader(start, end, nm, mk.graceSeconds, uniform);
        _batchHeader[batchId] = header;
        emit BatchSettled(batchId, header, words);
        if (anyHonoured) emit PreferencesHonoured(batchId, honoured);
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
        return _nonceAt(_nonces[_nonceKey(idx)], idx);
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
            uint256 h = _batchHeader[_batchOf(tradeId)];
            if (h == 0 || _indexInBatch(tradeId) >= _headerCount(h)) {
                return (0, 0, 0, 0, 0, 0, 0, false, 0);
            }
            t = _batchRecord(tradeId, h);
            (start, end, grace) = (_headerStart(h), _headerEnd(h), _headerGrace(h));
        } else {
            t = _book[tradeId];
            if (!_isTrade(t)) return (0, 0, 0, 0, 0, 0, 0, false, 0);
            (start, end, grace) = (_tradeStart(t), _tradeEnd(t), _tradeGrace(t));
        }
        seller = _tradeSeller(t);
        buyer = _tradeBuyer(t);
        wh = _tradeWh(t);
        price = _tradePrice(t);
        escrow = _tradeEscrow(t);
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
        return _packOrder(idx, wh, price, start, end, bidLead, mk.graceSeconds);
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
        if (o == 0 || _isTrade(o)) revert UnknownId(id);
        uint256 rem = _orderRemaining(o);
        if (rem == 0) revert OrderClosed(id);
        if (wh == 0) revert ZeroAmount();
        if (wh > rem) revert ExceedsRemaining(wh, rem);
        uint256 closes = _orderStart(o);
        uint256 opens = _orderBidOpen(o);
        if (block.timestamp < opens || block.timestamp >= closes) {
            revert OutsideWindow(block.timestamp, opens, closes);
        }
    }

    /// Record a trade of `wh` Wh from order `id` (word `o`) between member indices `seller`
    /// and `buyer`; `extra` != 0 when the escrow holds one wei more than cost(wh).
    function _trade(
        uint256 id,
        uint256 o,
        uint256 wh,
        uint256 seller,
        uint256 buyer,
        uint256 extra
    ) private returns (uint256 tradeId) {
        uint256 rem = _orderRemaining(o);
        uint256 fills = _orderFills(o);
        if (wh == rem) {
            tradeId = id; // the order's word becomes the trade; it keeps its fill count
        } else {
            if (++fills > M16) revert AmountOverflow();
            _book[id] = _withRemaining(o, rem - wh, fills);
            tradeId = _splitTradeId(id, fills);
            fills = 0;
        }
        uint256 t = _packTrade(seller, buyer, wh, o, fills, extra != 0);
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
            uint256 h = _batchHeader[_batchOf(tradeId)];
            if (h == 0 || _indexInBatch(tradeId) >= _headerCount(h)) revert UnknownId(tradeId);
            t = _batchRecord(tradeId, h);
            if (t == 0) revert AlreadySettled(tradeId);
            return (t, _headerStart(h), _headerEnd(h), _headerGrace(h));
        }
        t = _book[tradeId];
        if (!_isTrade(t)) _missingTrade(tradeId, t);
        return (t, _tradeStart(t), _tradeEnd(t), _tradeGrace(t));
    }

    /// Like _openTrade without reverting: open = false if the trade is unknown or settled.
    function _peekTrade(uint256 tradeId)
        private
        view
        returns (bool open, uint256 t, uint256 s, uint256 e, uint256 grace)
    {
        if (tradeId & 3 == 0) {
            uint256 h = _batchHeader[_batchOf(tradeId)];
            if (h == 0 || _indexInBatch(tradeId) >= _headerCount(h)) return (false, 0, 0, 0, 0);
            t = _batchRecord(tradeId, h);
            return (t != 0, t, _headerStart(h), _headerEnd(h), _headerGrace(h));
        }
        t = _book[tradeId];
        if (!_isTrade(t)) return (false, 0, 0, 0, 0);
        return (true, t, _tradeStart(t), _tradeEnd(t), _tradeGrace(t));
    }

    /// The record of batch trade `tradeId` (batch header `h`) with its price, as the low
    /// 128 bits of a trade word (0 once settled).
    function _batchRecord(uint256 tradeId, uint256 h) private view returns (uint256) {
        uint256 j = _indexInBatch(tradeId);
        uint256 uniform = _headerPrice(h);
        uint256 word = _batchTrades[_batchWordKey(_batchOf(tradeId), _wordOfRecord(j, uniform))];
        return _fullRecord(_recordAt(word, j, uniform), uniform);
    }

    function _closeTrade(uint256 tradeId) private {
        if (tradeId & 3 == 0) {
            uint256 batchId = _batchOf(tradeId);
            uint256 j = _indexInBatch(tradeId);
            uint256 uniform = _headerPrice(_batchHeader[batchId]);
            _batchTrades[_batchWordKey(batchId, _wordOfRecord(j, uniform))] &=
                ~_recordIn(_recordMask(uniform), j, uniform);
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
            (n, isRequest, fillNo) = _splitTradeParts(tradeId);
        } else {
            n = tradeId >> 2;
            isRequest = tag == 2 ? 1 : 0;
        }
        uint256 issued = isRequest == 1 ? market.nextRequest : market.nextOffer;
        if (n == 0 || n > issued) revert UnknownId(tradeId);
        if (tag == 3) {
            uint256 p = _book[isRequest == 1 ? _requestId(n) : _offerId(n)];
            if (p != 0) {
                uint256 fills = _isTrade(p) ? _tradeFills(p) : _orderFills(p);
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
        uint256 head = o.head;
        uint256 terms = o.terms;
        if (block.timestamp > _soExpiry(terms)) revert OrderExpired(i);
        if (_soWh(head) == 0 || _soPrice(terms) == 0) revert ZeroAmount();
        address maker = _soMaker(head);
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                domain,
                keccak256(
                    abi.encode(
                        ORDER_TYPEHASH,
                        maker,
                        _soSells(head),
                        _soWh(head),
                        _soPrice(terms),
                        start,
                        end,
                        _soNonce(head),
                        _soExpiry(terms),
                        _soPrefs(terms),
                        _soPremium(terms),
                        _soPartner(terms)
                    )
                )
            )
        );
        if (uint256(o.s) > HALF_N) revert BadSignature(i);
        address signer = ecrecover(digest, _soV(head), o.r, o.s);
        if (signer == address(0) || signer != maker) revert BadSignature(i);
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

    // ------------------------------------------------------------------ storage layout
    // Every packed word, field by field (bit offset, width). Nothing else shifts bits.
    //
    // order word, _book[offer or request id] (bit 255 clear):
    //   owner idx 0/16 | remaining Wh 16/32 | price wei/kWh 48/64 | start 112/40 | end 152/40
    //   | bidLead s 192/20 (bidding opened bidLead s before start; 0 = any time before)
    //   | grace s 212/20 | fills 232/16 (partial trades split off so far)
    // trade word, _book[trade id]:
    //   seller idx 0/16 | buyer idx 16/16 | Wh 32/32 | price 64/64 | start 128/40 | end 168/40
    //   | fills 208/16 (of the order it was) | grace s 224/20 | EXTRA 254 | TRADE 255
    // batch record: the low 128 bits of a trade word: seller 0/16 | buyer 16/16 | Wh 32/32
    //   | price 64/64. Stored in _batchTrades[batch << 16 | w] as the batch header says:
    //   header price 0: two 128-bit records per word, record i in word i / 2 at bit (i % 2) * 128;
    //   header price p != 0 (every trade of the batch at p): four 64-bit records without
    //   price (seller 0/16 | buyer 16/16 | Wh 32/32) per word, record i in word i / 4 at bit
    //   (i % 4) * 64. A settled record is 0 (Wh is never 0).
    // batch header, _batchHeader[batch]: start 0/40 | end 40/40 | count 80/16 | grace s 96/32
    //   | price 128/64 (the batch's one price, wei/kWh; 0 = each record has its own)
    // signed order words (settleBatch calldata, SignedOrder): head: maker 0/160 | Wh 160/32
    //   | nonce 192/32 | sell 224/1 | v - 27 225/1; terms: price 0/64 | expiry 64/40
    //   | premium wei/kWh 104/64 | prefs 168/3 (bit 0 partner, 1 local, 2 green)
    //   | partner member idx 171/16 (0 = none)
    // match word (settleBatch calldata): sell order index 0/16 | buy order index 16/16
    //   | Wh 32/32 | price 64/64 | honoured preference 128/2 (0 none, 1 partner, 2 local,
    //   3 green; the price may then reach the buy limit + premium)
    // nonce word, _nonces[idx / 8]: last nonce of member idx at bit (idx % 8) * 31, 31 bits;
    //   NONCE_PRIMED (bit 255) set at registration so batches never pay for a fresh slot
    // side word (memory, settleBatch): member idx 0/16 | sells 16/1 | limit price 17/64
    //   | premium 81/64 | prefs 145/3 | partner idx 148/16 | Wh left 164/32
    // settlement (DeliveryConfirmed data): delivered Wh 0/32 | seller paid 32/96
    //   | buyer refund 128/96
    // ids: offer n<<2|1, request n<<2|2, split trade ((n<<1|isRequest)<<16|fill)<<2|3,
    //   batch trade (batch<<16|i)<<2

    function _packOrder(
        uint256 owner,
        uint256 wh,
        uint256 price,
        uint256 start,
        uint256 end,
        uint256 bidLead,
        uint256 grace
    ) private pure returns (uint256) {
        return owner | wh << 16 | price << 48 | start << 112 | end << 152 | bidLead << 192
            | grace << 212;
    }

    function _orderOwner(uint256 o) private pure returns (uint256) {
        return o & M16;
    }

    function _orderRemaining(uint256 o) private pure returns (uint256) {
        return (o >> 16) & M32;
    }

    function _orderPrice(uint256 o) private pure returns (uint256) {
        return (o >> 48) & M64;
    }

    function _orderStart(uint256 o) private pure returns (uint256) {
        return (o >> 112) & M40;
    }

    function _orderEnd(uint256 o) private pure returns (uint256) {
        return (o >> 152) & M40;
    }

    /// When bidding for the order's window opened (0 = any time before its start).
    function _orderBidOpen(uint256 o) private pure returns (uint256) {
        uint256 lead = (o >> 192) & M20;
        return lead == 0 ? 0 : _orderStart(o) - lead;
    }

    function _orderGrace(uint256 o) private pure returns (uint256) {
        return (o >> 212) & M20;
    }

    function _orderFills(uint256 o) private pure returns (uint256) {
        return (o >> 232) & M16;
    }

    /// Order word `o` with `remaining` Wh left after `fills` partial trades.
    function _withRemaining(uint256 o, uint256 remaining, uint256 fills)
        private
        pure
        returns (uint256)
    {
        return (o & ~(M32 << 16 | M16 << 232)) | remaining << 16 | fills << 232;
    }

    function _isTrade(uint256 w) private pure returns (bool) {
        return w & TRADE != 0;
    }

    /// A trade word for `wh` Wh of order word `o` (its price, window and grace).
    function _packTrade(
        uint256 seller,
        uint256 buyer,
        uint256 wh,
        uint256 o,
        uint256 fills,
        bool extraWei
    ) private pure returns (uint256) {
        return TRADE | (extraWei ? EXTRA : 0) | _packRecord(seller, buyer, wh, _orderPrice(o))
            | _orderStart(o) << 128 | _orderEnd(o) << 168 | fills << 208 | _orderGrace(o) << 224;
    }

    function _tradeSeller(uint256 t) private pure returns (uint256) {
        return t & M16;
    }

    function _tradeBuyer(uint256 t) private pure returns (uint256) {
        return (t >> 16) & M16;
    }

    function _tradeWh(uint256 t) private pure returns (uint256) {
        return (t >> 32) & M32;
    }

    function _tradePrice(uint256 t) private pure returns (uint256) {
        return (t >> 64) & M64;
    }

    function _tradeStart(uint256 t) private pure returns (uint256) {
        return (t >> 128) & M40;
    }

    function _tradeEnd(uint256 t) private pure returns (uint256) {
        return (t >> 168) & M40;
    }

    function _tradeFills(uint256 t) private pure returns (uint256) {
        return (t >> 208) & M16;
    }

    function _tradeGrace(uint256 t) private pure returns (uint256) {
        return (t >> 224) & M20;
    }

    /// Wei held for a trade (or batch record): cost(wh, price), plus one if EXTRA.
    function _tradeEscrow(uint256 t) private pure returns (uint256) {
        return _tradeWh(t) * _tradePrice(t) / 1000 + (t & EXTRA == 0 ? 0 : 1);
    }

    function _packRecord(uint256 seller, uint256 buyer, uint256 wh, uint256 price)
        private
        pure
        returns (uint256)
    {
        return seller | buyer << 16 | wh << 32 | price << 64;
    }

    /// Bits of one stored batch record: 64 in a one-price batch (`uniform` != 0), else 128.
    function _recordBits(uint256 uniform) private pure returns (uint256) {
        return uniform == 0 ? 128 : 64;
    }

    function _recordMask(uint256 uniform) private pure returns (uint256) {
        return uniform == 0 ? M128 : M64;
    }

    /// Record `record` (a trade word's low 128 bits) as stored: without its price when the
    /// batch has one price.
    function _storedRecord(uint256 record, uint256 uniform) private pure returns (uint256) {
        return record & _recordMask(uniform);
    }

    /// A stored record with its price again (0 stays 0: settled).
    function _fullRecord(uint256 stored, uint256 uniform) private pure returns (uint256) {
        return stored == 0 ? 0 : stored | uniform << 64;
    }

    /// Index of the word of a batch that holds record `i`.
    function _wordOfRecord(uint256 i, uint256 uniform) private pure returns (uint256) {
        return i / (256 / _recordBits(uniform));
    }

    /// Bit offset of record `i` in its word.
    function _recordShift(uint256 i, uint256 uniform) private pure returns (uint256) {
        uint256 bits = _recordBits(uniform);
        return (i % (256 / bits)) * bits;
    }

    /// Record `i` of the word that holds it, and a record placed at its offset.
    function _recordAt(uint256 word, uint256 i, uint256 uniform) private pure returns (uint256) {
        return (word >> _recordShift(i, uniform)) & _recordMask(uniform);
    }

    function _recordIn(uint256 record, uint256 i, uint256 uniform) private pure returns (uint256) {
        return record << _recordShift(i, uniform);
    }

    function _packHeader(uint256 start, uint256 end, uint256 count, uint256 grace, uint256 price)
        private
        pure
        returns (uint256)
    {
        return start | end << 40 | count << 80 | grace << 96 | price << 128;
    }

    /// The batch's one price (wei/kWh), 0 if its records carry their own.
    function _headerPrice(uint256 h) private pure returns (uint256) {
        return (h >> 128) & M64;
    }

    function _headerStart(uint256 h) private pure returns (uint256) {
        return h & M40;
    }

    function _headerEnd(uint256 h) private pure returns (uint256) {
        return (h >> 40) & M40;
    }

    function _headerCount(uint256 h) private pure returns (uint256) {
        return (h >> 80) & M16;
    }

    function _headerGrace(uint256 h) private pure returns (uint256) {
        return (h >> 96) & M32;
    }

    function _offerId(uint256 n) private pure returns (uint256) {
        return n << 2 | 1;
    }

    function _requestId(uint256 n) private pure returns (uint256) {
        return n << 2 | 2;
    }

    /// Id of the `fill`-th partial trade of order `orderId`.
    function _splitTradeId(uint256 orderId, uint256 fill_) private pure returns (uint256) {
        return ((orderId >> 2) << 1 | (orderId & 2) >> 1) << 18 | fill_ << 2 | 3;
    }

    /// (order number n, 1 if a request, fill number) of a split trade id.
    function _splitTradeParts(uint256 tradeId) private pure returns (uint256, uint256, uint256) {
        return (tradeId >> 19, (tradeId >> 18) & 1, (tradeId >> 2) & M16);
    }

    function _batchOf(uint256 tradeId) private pure returns (uint256) {
        return tradeId >> 18;
    }

    function _indexInBatch(uint256 tradeId) private pure returns (uint256) {
        return (tradeId >> 2) & M16;
    }

    /// _batchTrades key of word `w` (records 2w and 2w + 1) of batch `batchId`.
    function _batchWordKey(uint256 batchId, uint256 w) private pure returns (uint256) {
        return batchId << 16 | w;
    }

    function _soMaker(uint256 head) private pure returns (address) {
        return address(uint160(head));
    }

    function _soWh(uint256 head) private pure returns (uint256) {
        return (head >> 160) & M32;
    }

    function _soNonce(uint256 head) private pure returns (uint256) {
        return (head >> 192) & M32;
    }

    function _soSells(uint256 head) private pure returns (bool) {
        return (head >> 224) & 1 == 1;
    }

    /// Signature v (27 or 28).
    function _soV(uint256 head) private pure returns (uint8) {
        return uint8(27 + ((head >> 225) & 1));
    }

    function _soPrice(uint256 terms) private pure returns (uint256) {
        return terms & M64;
    }

    function _soExpiry(uint256 terms) private pure returns (uint256) {
        return (terms >> 64) & M40;
    }

    function _soPremium(uint256 terms) private pure returns (uint256) {
        return (terms >> 104) & M64;
    }

    function _soPrefs(uint256 terms) private pure returns (uint256) {
        return (terms >> 168) & 7;
    }

    function _soPartner(uint256 terms) private pure returns (uint256) {
        return (terms >> 171) & M16;
    }

    function _matchSellOrder(uint256 x) private pure returns (uint256) {
        return x & M16;
    }

    function _matchBuyOrder(uint256 x) private pure returns (uint256) {
        return (x >> 16) & M16;
    }

    function _matchWh(uint256 x) private pure returns (uint256) {
        return (x >> 32) & M32;
    }

    function _matchPrice(uint256 x) private pure returns (uint256) {
        return (x >> 64) & M64;
    }

    function _matchPref(uint256 x) private pure returns (uint256) {
        return (x >> 128) & 3;
    }

    function _nonceKey(uint256 idx) private pure returns (uint256) {
        return idx >> 3;
    }

    function _nonceAt(uint256 word, uint256 idx) private pure returns (uint256) {
        return (word >> ((idx & 7) * 31)) & M31;
    }

    function _withNonce(uint256 word, uint256 idx, uint256 nonce) private pure returns (uint256) {
        uint256 shift = (idx & 7) * 31;
        return (word & ~(M31 << shift)) | nonce << shift;
    }

    /// Side word of member `idx`'s signed order with calldata words `head` and `terms`.
    function _packSide(uint256 idx, uint256 head, uint256 terms) private pure returns (uint256) {
        return idx | (_soSells(head) ? 1 << 16 : 0) | _soPrice(terms) << 17
            | _soPremium(terms) << 81 | _soPrefs(terms) << 145 | _soPartner(terms) << 148
            | _soWh(head) << 164;
    }

    function _sideMember(uint256 x) private pure returns (uint256) {
        return x & M16;
    }

    function _sideSells(uint256 x) private pure returns (bool) {
        return (x >> 16) & 1 == 1;
    }

    function _sideLimit(uint256 x) private pure returns (uint256) {
        return (x >> 17) & M64;
    }

    function _sidePremium(uint256 x) private pure returns (uint256) {
        return (x >> 81) & M64;
    }

    function _sidePrefs(uint256 x) private pure returns (uint256) {
        return (x >> 145) & 7;
    }

    function _sidePartner(uint256 x) private pure returns (uint256) {
        return (x >> 148) & M16;
    }

    function _sideLeft(uint256 x) private pure returns (uint256) {
        return x >> 164;
    }

    /// Side word `x` with `wh` fewer Wh left (the caller checked wh <= left).
    function _sideTake(uint256 x, uint256 wh) private pure returns (uint256) {
        return x - (wh << 164);
    }

    function _packSettlement(uint256 deliveredWh, uint256 paid, uint256 refund)
        private
        pure
        returns (uint256)
    {
        return deliveredWh | paid << 32 | refund << 128;
    }
}
