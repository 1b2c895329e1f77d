// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

interface IMarket {
    function postOffer(uint256 wh, uint256 price, uint256 start, uint256 end)
        external
        returns (uint256);
    function withdraw() external;
}

/// Test-only member contract whose receive() re-enters withdraw().
contract Reenter {
    IMarket public immutable market;
    uint256 public reentered;

    constructor(IMarket m) {
        market = m;
    }

    function offer(uint256 wh, uint256 price, uint256 start, uint256 end) external {
        market.postOffer(wh, price, start, end);
    }

    function pull() external {
        market.withdraw();
    }

    receive() external payable {
        reentered += 1;
        market.withdraw();
    }
}
