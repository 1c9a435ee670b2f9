package push

import (
	"fmt"
	"net"
)

// TunnelRegistry is the registry of the addresses that a registry service
// must stand in for, or "" when none needs one. Inside a Dagger function,
// loopback (localhost:5000) is the function's own container, not the
// caller's machine, so a loopback address is reached only through a
// service the caller passes (haveService), dialled with DialVia. Every
// mismatch is an error with the fix: a loopback address without a
// service, a service no address needs, two loopback registries for one
// service, or a loopback address without the port the service forwards.
func TunnelRegistry(addresses []string, haveService bool) (string, error) {
	tags, err := ParseAddresses(addresses, false)
	if err != nil {
		return "", err
	}
	var loopback string
	for _, t := range tags {
		reg := t.RegistryStr()
		if !Loopback(reg) {
			continue
		}
		if loopback != "" && loopback != reg {
			return "", fmt.Errorf("addresses name two loopback registries, %s and %s: one registry service can stand in for one", loopback, reg)
		}
		loopback = reg
	}
	switch {
	case loopback == "" && !haveService:
		return "", nil
	case loopback == "":
		return "", fmt.Errorf("a registry service was given, but no address names a loopback registry (localhost:PORT/…) for it to stand in for")
	case !haveService:
		return "", fmt.Errorf("address registry %s is loopback: inside a Dagger function 127.0.0.1 is the function's own container, not your machine; "+
			"pass the registry as a service (--registry tcp://%s from the dagger CLI) or push to an address the engine's containers reach", loopback, loopback)
	}
	if _, _, err := net.SplitHostPort(loopback); err != nil {
		return "", fmt.Errorf("address registry %s: give its port (e.g. localhost:5000), which the registry service forwards", loopback)
	}
	return loopback, nil
}
