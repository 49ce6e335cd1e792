"""The national portal's dossier-sync format (DVCQG ``DongBoHoSoMC`` and
``CapNhatTienDoHoSoMC``) turned into chiso events.

One-stop systems already send every dossier's status to the national public-service
portal; chiso accepts the same payloads (docs/ket-noi-mot-cua.md). A sync payload is
a *snapshot* of a dossier, not an event, so events are derived from what each
snapshot states about itself; the one fact that needs several snapshots together
(the reception, whose flags and appointment are spread over them) is a join kept
monotone (``reception.py``), so that events already sent never need retracting.

- ``payload``: unwrap a request body (object, array, ``{"data": [...]}``, the
  OpenCPS envelope) into items.
- ``model``: validate an item (pydantic), per-field errors.
- ``agencies``: DonViXuLy / madonvi / MaDinhDanhDV / MaHoSo prefix -> unit id.
- ``derive``: a snapshot or a progress step -> events (+ a reception candidate).
- ``reception``: the reception lattice, its closure and the ``received`` events.
- ``ledger``: the pure composition the endpoint and the import run (with the
  accepted receptions kept in memory here, in Redis there).

Pure: no Kafka, no Redis, no clock, no file system beyond reading a mapping file.
"""
