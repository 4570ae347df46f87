"""Random register traffic against a chain: the 1284.3 invariants hold after every step."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hostseq import assign_addresses_linux, cpp_linux, cpp_windows
from parport.hw.emu import DaisyDevice, EmulatedPort, build_chain


class ChainMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.port = EmulatedPort(build_chain([{"kind": "daisy"}] * 3 + [{"kind": "printer"}]))
        self.daisies = [d for d in self.port.chain if isinstance(d, DaisyDevice)]
        self.printer = self.port.chain[-1]

    @rule(value=st.integers(0, 0xFF))
    def write_data(self, value: int) -> None:
        self.port.write_data(value)

    @rule(value=st.integers(0, 0x3F))
    def write_control(self, value: int) -> None:
        self.port.write_control(value)
        if not value & 0x04 and value & 0x08:  # nInit L with nSelectIn L: global reset
            for device in self.daisies:
                assert device.address is None
                assert not device.selected

    @rule(mode=st.sampled_from([0x14, 0x34, 0x54, 0x74, 0x94, 0xD4]))
    def write_ecr(self, mode: int) -> None:
        self.port.write_ecr(mode)

    @rule(value=st.integers(0, 0xFF))
    def fifo(self, value: int) -> None:
        self.port.write_fifo(value)

    @rule(value=st.integers(0, 0xFF), address=st.booleans())
    def epp_cycle(self, value: int, address: bool) -> None:
        if address:
            self.port.write_epp_address(value)
        else:
            self.port.read_epp_data()

    @rule(us=st.floats(0, 200))
    def sleep(self, us: float) -> None:
        self.port.sleep(us)

    @rule()
    def read_status(self) -> None:
        self.port.read_status()

    @rule()
    def assign(self) -> None:
        # A host assigns with software strobes, so in a mode where they reach the cable (in ECR
        # modes 010/011 the chip owns nStrobe and an assignment cannot complete).
        self.port.write_ecr(0x34)
        self.port.write_control(0x0C)
        cpp_linux(self.port, 0x30)  # and with nothing selected (a selected device cuts off)
        self.port.sleep(10)
        count = assign_addresses_linux(self.port)
        assert count == 3
        assert [d.address for d in self.daisies] == [0, 1, 2]

    @rule(
        command=st.sampled_from([0x30, 0xE0, 0xE1, 0xE2, 0xE3, 0xD1, 0x20, 0x08]),
        windows=st.booleans(),
    )
    def cpp(self, command: int, windows: bool) -> None:
        (cpp_windows if windows else cpp_linux)(self.port, command)

    @invariant()
    def at_most_one_selected(self) -> None:
        assert sum(d.selected for d in self.daisies) <= 1
        selected = [d.address for d in self.daisies if d.selected]
        assert self.port.selected_address == (selected[0] if selected else None)

    @invariant()
    def deselected_chain_is_transparent(self) -> None:
        if any(d.selected or d.in_frame for d in self.daisies):
            return
        head = self.port.cable.head
        assert head.status() == self.printer.status()
        assert head.data_out() == self.printer.data_out()
        data, control = self.port._lines
        assert (self.printer._data, self.printer._ctl) == (data, control)  # type: ignore[attr-defined]


ChainMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestChain = ChainMachine.TestCase
