"""An offline stand-in for mainnet: anvil with chain id 1, seeded at the mainnet addresses.

Real third-party bytecode from npm is placed at the real addresses: Uniswap V2's factory (its
pairs are created by CREATE2 from there, so they land where mainnet's would), WETH9, and a
Chainlink MockV3Aggregator at the USDe/USD feed. USDe, USDC and USDT are ERC-20s with their real
decimals. Contracts are deployed normally, then their runtime code is copied to the mainnet
address (constructor-set storage is written where the code needs it). The whales are funded,
a USDe/USDC Uniswap V2 pair is seeded, and a few blocks are mined: ape then forks this chain at
`block_number` through `ethereum:mainnet-fork:foundry`, exactly as it would fork mainnet.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3

from devchain.npm import NODE_MODULES as NPM
from devchain.npm import chainlink_mock_v3, npm_artifact
from tests.fork import addresses as A

ROOT = Path(__file__).resolve().parents[2]
# anvil's first default account deploys on the upstream.
DEV = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
POOL_SIDE_USD = 10_000_000  # each side of the seeded USDe/USDC Uniswap V2 pair


@dataclass
class Upstream:
    uri: str
    block_number: int
    process: subprocess.Popen
    usde_usdc_pair: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _local_artifact(name: str) -> tuple[list, str]:
    manifest = json.loads((ROOT / ".build" / "__local__.json").read_text())
    ct = manifest["contractTypes"][name]
    return ct["abi"], ct["deploymentBytecode"]["bytecode"]


class _Seeder:
    def __init__(self, w3: Web3):
        self.w3 = w3

    def send(self, fn) -> dict:
        tx_hash = fn.transact({"from": DEV})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt.status == 1, f"upstream seeding transaction failed: {fn}"
        return receipt

    def deploy(self, abi: list, bytecode: str, *args):
        receipt = self.send(self.w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args))
        return self.w3.eth.contract(address=receipt.contractAddress, abi=abi)

    def place(self, abi: list, bytecode: str, at: str, *args):
        """Deploys, then copies the runtime code to the mainnet address `at`."""
        deployed = self.deploy(abi, bytecode, *args)
        code = self.w3.eth.get_code(deployed.address)
        self.w3.provider.make_request("anvil_setCode", [at, code.to_0x_hex()])
        return self.w3.eth.contract(address=Web3.to_checksum_address(at), abi=abi)

    def set_slot(self, at: str, slot: int, value: int) -> None:
        self.w3.provider.make_request(
            "anvil_setStorageAt", [at, hex(slot), "0x" + value.to_bytes(32, "big").hex()]
        )


def start(blocks_after_seed: int = 3) -> Upstream:
    """Starts and seeds the upstream; returns its URI and the block to fork at."""
    port = _free_port()
    process = subprocess.Popen(
        ["anvil", "--chain-id", "1", "--port", str(port), "--silent", "--hardfork", "prague"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"http://127.0.0.1:{port}"
    w3 = Web3(Web3.HTTPProvider(uri))
    for _ in range(100):
        if w3.is_connected():
            break
        time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(f"upstream anvil did not start on {uri}")
    try:
        pair = _seed(_Seeder(w3))
        for _ in range(blocks_after_seed):
            w3.provider.make_request("evm_mine", [])
        return Upstream(uri=uri, block_number=w3.eth.block_number, process=process, usde_usdc_pair=pair)
    except Exception:
        process.kill()
        raise


def _seed(s: _Seeder) -> str:
    token_abi, token_code = _local_artifact("FaucetToken")
    usde = s.place(token_abi, token_code, A.USDE, "USDe", "USDe", 18)
    usdc = s.place(token_abi, token_code, A.USDC, "USD Coin", "USDC", 6)
    s.place(token_abi, token_code, A.USDT, "Tether USD", "USDT", 6)

    weth_runtime = json.loads((NPM / "canonical-weth/build/contracts/WETH9.json").read_text())[
        "deployedBytecode"
    ]
    s.w3.provider.make_request("anvil_setCode", [A.WETH, weth_runtime])

    # Chainlink USDe/USD: decimals (slot 0) is set by the constructor, so it is written by hand.
    feed_abi, feed_code = chainlink_mock_v3()
    feed = s.place(feed_abi, feed_code, A.CHAINLINK_USDE_USD, 8, 10**8)
    s.set_slot(A.CHAINLINK_USDE_USD, 0, 8)
    s.send(feed.functions.updateAnswer(99_980_000))
    for standin in A.USDE_USD_STANDINS:  # the second and third feeds the deploy config asks for
        other = s.place(feed_abi, feed_code, standin, 8, 10**8)
        s.set_slot(standin, 0, 8)
        s.send(other.functions.updateAnswer(99_980_000))

    factory_abi, factory_code = npm_artifact("@uniswap/v2-core/build/UniswapV2Factory.json")
    factory = s.place(factory_abi, factory_code, A.UNISWAP_V2_FACTORY, DEV)
    s.send(factory.functions.createPair(A.USDE, A.USDC))
    pair_address = factory.functions.getPair(A.USDE, A.USDC).call()
    pair_abi, _ = npm_artifact("@uniswap/v2-core/build/UniswapV2Pair.json")
    pair = s.w3.eth.contract(address=pair_address, abi=pair_abi)
    s.send(usde.functions.faucet(pair_address, POOL_SIDE_USD * 10**18))
    s.send(usdc.functions.faucet(pair_address, POOL_SIDE_USD * 10**6))
    s.send(pair.functions.mint(DEV))

    s.send(usde.functions.faucet(A.USDE_WHALE, 50_000_000 * 10**18))
    s.send(usdc.functions.faucet(A.USDC_WHALE, 50_000_000 * 10**6))
    return pair_address
