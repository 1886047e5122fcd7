"""Row <-> domain object mapping, one repository per aggregate. Each works inside a unit of work."""
