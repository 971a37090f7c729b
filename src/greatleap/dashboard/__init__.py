"""The policy lab in the browser (Streamlit): levers from the parameter schema, runs beside the record."""
