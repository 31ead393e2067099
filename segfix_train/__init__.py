"""segfix_train: the SegFix model (HRNet + boundary and direction heads), data streaming, training
loop and inference. Imports torch; imports ``segfix_data``, never the reverse."""
