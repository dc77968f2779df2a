
# The composition root: the program (and its self-test) runs with the real device adapters plugged into
# meike's ports (DESIGN.md, Layers). Plugging imports no Qt and opens no device.
import devices as _devices

_devices.plug()
