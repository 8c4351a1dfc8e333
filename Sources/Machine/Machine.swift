// Machine: RAM, devices, loaders, run loop.
