package awsfake

// Support for running the fake beside another emulator (moto), which
// serves EC2 while the fake serves only what the other lacks (Systems
// Manager, Redshift Serverless).

// ExternalInstance registers an EC2 instance that lives in another
// emulator, known here only by its id and private address, so that the
// fake's Systems Manager can report its agent: chain SSM, SSMOnline,
// SSMAgent or InstanceProfile as for Instance. The fake's own EC2 API is
// not meant to be used with it: it would list the instance with no VPC or
// subnet.
func (r *Region) ExternalInstance(id, privateIP string) *Instance {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	detached := &Subnet{vpc: &VPC{r: r}}
	i := &Instance{
		r: r, id: id, resID: r.f.hexID("r"), eni: r.f.hexID("eni"), image: r.f.hexID("ami"),
		subnet: detached, privateIP: privateIP, state: "running", itype: "t3.micro",
	}
	r.instances = append(r.instances, i)
	return i
}
