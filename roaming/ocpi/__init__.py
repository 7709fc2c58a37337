"""The OCPI HTTP interface: /ocpi/versions, /ocpi/2.2.1/..., /ocpi/cpo/2.2.1/..."""
