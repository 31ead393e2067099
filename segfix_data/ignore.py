"""The label ignore value, one name and one constant for every room: :data:`IGNORE_INDEX`.

255 marks the pixels without a class in uint8 train-id maps: a layout's label map once its id table
has run (unevaluated ids become 255), the ground truth the scores read, a shard's ``label``, and the
boundary target (``Targets.boundary``: 1 boundary, 0 not, 255 ignore). Every ``ignore_index``
argument (``semantic_targets``, the panels, the statistics) defaults to it, and the manifest and
the sample records of a shard split name it ``ignore_index`` too.

It is not "no direction": a direction map's 255 is
:data:`segfix_data.targets.direction.DIRECTION_IGNORE`, another idea that happens to share the number.
"""
#: Value of ignored pixels in uint8 label maps and boundary targets.
IGNORE_INDEX = 255
