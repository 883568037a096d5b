package connect

import (
	"fmt"

	"github.com/dbtunnel/dbtunnel/discovery"
)

// Report is what `doctor` says of a target: the verdict and checks of its
// best route, and every route with its own. Its JSON form is
// `doctor --json`; add fields freely, never rename or remove one.
type Report struct {
	Target   string             `json:"target"`
	Verdict  discovery.Verdict  `json:"verdict"`
	Checks   []discovery.Check  `json:"checks"`
	Database string             `json:"database"`
	Kind     discovery.Kind     `json:"kind"`
	Scope    discovery.Scope    `json:"scope"`
	Endpoint discovery.Endpoint `json:"endpoint"`
	Via      string             `json:"via,omitempty"`
	Bastion  string             `json:"bastion,omitempty"`
	Routes   []discovery.Route  `json:"routes"`
}

// Diagnose builds the report for a located database. A database no bastion
// can reach gets one failing check that says what to launch, so there is
// always something to act on. `doctor` prints it; the TUI's details screen
// shows it.
func Diagnose(name string, f *Found) Report {
	ep := f.Endpoint
	ep.Routes = nil
	rep := Report{
		Target: name, Database: f.Database.Name, Kind: f.Database.Kind, Scope: f.Scope,
		Endpoint: ep, Routes: f.Routes, Verdict: discovery.VerdictBlocked,
	}
	if len(f.Routes) == 0 {
		vpc := f.Database.VPCID
		if f.Endpoint.OwnNetwork() {
			vpc = f.Endpoint.VPCID
		}
		rep.Checks = []discovery.Check{{
			Name:   "bastion",
			Status: discovery.CheckFail,
			Detail: fmt.Sprintf("no instance in %s (or a VPC routed to it) can carry a tunnel: none is SSM-managed, has an instance profile, or has a public IP", vpc),
			Fix:    "launch a bastion in a private subnet of " + vpc + " with an instance profile that has AmazonSSMManagedInstanceCore",
		}}
		rep.Routes = []discovery.Route{}
		return rep
	}
	best := f.Routes[0]
	rep.Verdict, rep.Checks, rep.Via, rep.Bastion = best.Verdict, best.Checks, best.Via, best.Bastion
	return rep
}
